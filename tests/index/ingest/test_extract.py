"""Extracting the article from news-shaped pages served on 127.0.0.1 and from a two-column PDF: its paragraphs and
what it says of itself, none of the page's chrome, comments or links to other articles."""

import zlib
from collections.abc import Iterator

import pytest

from index.ingest.articles import Reading, read_article, read_in_child
from index.ingest.cleaning import paragraphs
from index.ingest.source_fields import SourceError
from tests.news_site import ARTICLE_PATH, LEFT, PAGES, RIGHT, NewsSite, serving, two_column_pdf

LOCAL = frozenset({"127.0.0.1"})
CANONICAL = "https://frontier-ledger.example/world/2017/08/05/khaf-herat-freight"
ARTICLE_OPENINGS = ["Iranian and Afghan railway officials agreed", "Under the arrangement, two trains a week",
                    "Traders in Herat welcomed the news", '"A railway is only as fast',
                    "The line's final section, across the border"]
NOT_ARTICLE = ["cookies", "Accept all", "Advertisement", "Related articles", "Border market reopens",
               "Saffron prices climb", "Finally! I have been waiting", "far too few", "Nobody mentions",
               "Leave a reply", "Write your comment", "All rights reserved", "Share on Facebook", "Print this article",
               "[File]", "Tags:", "Subscribe", "Privacy policy"]


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with serving() as running:
        yield running


def test_a_news_page_gives_its_paragraphs_and_metadata(site: NewsSite) -> None:
    """The article's paragraphs in order, and its title, outlet, author, date and canonical address; nothing else."""
    article = read_article(Reading(link=site.url(ARTICLE_PATH)), LOCAL, 10.0)
    found = paragraphs(article.text, article.title)
    assert [p.text[:len(opening)] for p, opening in zip(found, ARTICLE_OPENINGS, strict=True)] == ARTICLE_OPENINGS
    assert article.text.startswith("Freight trains to run on the Khaf–Herat line, officials say\n\n")
    for chrome in NOT_ARTICLE:
        assert chrome.lower() not in article.text.lower(), chrome
    assert article.metadata() == {"title": "Freight trains to run on the Khaf–Herat line, officials say",
                                  "outlet": "The Frontier Ledger", "author": "Parisa Navabi",
                                  "published": "2017-08-05", "url": CANONICAL}


def test_every_extracted_line_is_quotable_as_written(site: NewsSite) -> None:
    """What extraction writes is what cleaning quotes: each paragraph a whole line, none dropped."""
    article = read_article(Reading(link=site.url(ARTICLE_PATH)), LOCAL, 10.0)
    lines = [line for line in article.text.splitlines()[1:] if line]
    assert [p.text for p in paragraphs(article.text, article.title)] == lines


def test_a_saved_page_gives_the_same_article(site: NewsSite) -> None:
    """An uploaded .html of the page reads as the fetched one does, its address taken from the page itself."""
    fetched = read_article(Reading(link=site.url(ARTICLE_PATH)), LOCAL, 10.0)
    uploaded = read_article(Reading(filename="freight.html", data=(PAGES / "article.html").read_bytes()), LOCAL, 10.0)
    assert uploaded == fetched and uploaded.url == CANONICAL


@pytest.mark.parametrize(("path", "says"), [
    ("/world/customs-talks", "The page marks its article as for subscribers only (a paywall)"),
    ("/world", "No article text was found, only headings, captions or short lines."),
])
def test_pages_without_a_whole_article_are_refused(site: NewsSite, path: str, says: str) -> None:
    """A paywall stub and a section front hold no article to quote: refused, saying which."""
    with pytest.raises(SourceError, match=says.replace("(", r"\(").replace(")", r"\)")):
        read_article(Reading(link=site.url(path)), LOCAL, 10.0)


def test_a_two_column_pdf_reads_column_by_column(site: NewsSite) -> None:
    """Each column's paragraphs come whole and in reading order, left column first; title and author from the
    document's properties, no date (its creation date is not when the article appeared)."""
    article = read_article(Reading(link=site.url("/reports/rail.pdf")), LOCAL, 10.0)
    assert [p.text for p in paragraphs(article.text, article.title)] == LEFT + RIGHT
    assert article.metadata() == {"title": "Rail freight report, first quarter", "author": "Darius Kamali",
                                  "url": site.url("/reports/rail.pdf")}


def test_plain_text_at_a_link_is_taken_as_it_is(site: NewsSite) -> None:
    """A link to plain text gives the text unchanged, with the link as its address."""
    article = read_article(Reading(link=site.url("/notes.txt")), LOCAL, 10.0)
    assert article.text == (PAGES / "notes.txt").read_text(encoding="utf-8")
    assert article.metadata() == {"url": site.url("/notes.txt")}


def test_the_child_process_reads_as_this_one_does(site: NewsSite) -> None:
    """The child process that the bot and the command line use gives the same article, and its refusals."""
    assert read_in_child(Reading(filename="rail.pdf", data=two_column_pdf()), [], 10.0) == read_article(
        Reading(filename="rail.pdf", data=two_column_pdf()), frozenset(), 10.0)
    with pytest.raises(SourceError, match=r"The address 127\.0\.0\.1 is a loopback address"):
        read_in_child(Reading(link=site.url(ARTICLE_PATH)), [], 10.0)


@pytest.mark.parametrize(("data", "says"), [(b"%PDF-1.4\n%%EOF garbage", "not a PDF that can be read"),
                                            (b"<html><body><p>Hi.</p></body></html>", "No article text")])
def test_damaged_or_empty_files_are_refused(data: bytes, says: str) -> None:
    """A damaged PDF or a page with nothing in it is refused with the reason, not a crash."""
    name = "broken.pdf" if data.startswith(b"%PDF") else "empty.html"
    with pytest.raises(SourceError, match=says):
        read_in_child(Reading(filename=name, data=data), [], 10.0)


def pdf_bomb(gib: float = 2.5) -> bytes:
    """A 2.6 MB PDF whose one page's content stream unpacks to `gib` GiB of spaces."""
    packer = zlib.compressobj(9)
    chunk = b" " * (64 << 20)
    stream = b"".join([packer.compress(chunk) for _ in range(int(gib * 16))] + [packer.flush()])
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream)]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.slow
def test_a_pdf_that_unpacks_to_gigabytes_is_refused() -> None:
    """A small PDF that would unpack to more memory than the reading process may have is refused, not read."""
    with pytest.raises(SourceError, match="Reading it needs more than 2 GB of memory"):
        read_in_child(Reading(filename="bomb.pdf", data=pdf_bomb()), [], 10.0)
