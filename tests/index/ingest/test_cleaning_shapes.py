"""Pages the cleaner must recognise by their shape: HTML, reader comments without a counter, text with no breaks.

Every page here is made up; none is modelled on a seed file.
"""

import random
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.ingest.chunking import MAX_PASSAGES, chunk_document
from index.ingest.cleaning import first_heading, looks_like_html, paragraphs
from index.ingest.corpus import CorpusError, decode, make_document
from index.ingest.editing import add_source
from index.ingest.source_fields import SourceError
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, make_settings

HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Envoys meet at the border</title></head>
<body>
<article>
<p>Envoys from both governments met at the border crossing on Monday, officials said.</p>
<p>The talks covered water rights &amp; trade, according to a joint statement.</p>
</article>
<footer>&copy; 2024 Example News. All rights reserved.</footer>
</body></html>
"""

HTML_FRAGMENT = """<div class="story">
<h1>Envoys meet at the border</h1>
<p>Envoys from both governments met at the border crossing on Monday, officials said.</p>
<p>The talks covered <a href="/water">water rights</a> and trade, a statement said.</p>
<p>Another round is planned for <em>next month</em>, two delegates said.</p>
</div>
"""

PROSE_WITH_A_TAG = """Markup in the news
A court ruled on Monday that the <b> tag in the ministry's press release was a typo, officials said.
The ministry said the statement would be corrected by the end of the week.
"""

COMMENTS_ONLY = """Ahmad Karimi · 3 hours ago
This is exactly what everyone in Herat has been saying for years, nobody listens.
Reply

Sara M. · 2 hours ago
Source? The article does not show any proof of the weapons claim at all.
Reply · 4 likes

guest_7781 · yesterday
Both governments are lying to us, as usual.
"""

COMMENTS_ON_TWO_LINES = """Ahmad Karimi
March 3, 2024 at 5:12 pm
This is exactly what everyone in Herat has been saying for years, nobody listens.

Sara M.
March 3, 2024 at 6:40 pm
Source? The article does not show any proof of the weapons claim at all.
"""

ARTICLE = """Envoys meet at the border
By Jane Roe
March 3, 2024 at 9:00 am
Envoys from both governments met at the border crossing on Monday, officials said.
The talks covered water rights and trade, according to a joint statement released afterwards.
Another round is planned for next month in the capital, two delegates said.
Neither side commented on the reports of weapons crossing the border at night.
"""


def test_an_html_page_is_recognised():
    """A full HTML document, and a fragment of tagged paragraphs, are HTML; prose naming one tag is not."""
    assert looks_like_html(HTML_PAGE) and looks_like_html(HTML_FRAGMENT)
    assert not looks_like_html(PROSE_WITH_A_TAG) and not looks_like_html(ARTICLE)


def test_an_html_file_is_refused_with_what_to_do():
    """The corpus refuses an HTML file with a message saying to save the article as text, quoting nothing."""
    with pytest.raises(CorpusError, match=r"HTML page.*plain text"):
        decode(HTML_PAGE.encode())


@pytest.mark.parametrize("page", [COMMENTS_ONLY, COMMENTS_ON_TWO_LINES], ids=["one-line heads", "two-line heads"])
def test_a_page_of_reader_comments_has_nothing_to_quote(page: str):
    """Comments known only by their shape (name, when, short text) give no paragraph and no title."""
    assert paragraphs(page) == []
    assert first_heading(page) is None
    assert chunk_document(make_document("comments.txt", page, {})) == []


def test_comments_after_an_article_without_a_counter_are_dropped():
    """An article followed by reader comments, with no comment box or counter between, keeps only its text."""
    found = [p.text for p in paragraphs(ARTICLE + "\n" + COMMENTS_ON_TWO_LINES, "Envoys meet at the border")]
    assert found == [p.text for p in paragraphs(ARTICLE, "Envoys meet at the border")]
    assert len(found) == 4 and not any("Herat" in text or "Source?" in text for text in found)


def test_a_byline_with_a_date_is_not_taken_for_a_comment():
    """A name and a date over a whole article head the article: every paragraph is kept."""
    found = paragraphs(ARTICLE, "Envoys meet at the border")
    assert [p.text.split()[0] for p in found] == ["Envoys", "The", "Another", "Neither"]


def one_line_text(words: int, seed: int = 1) -> str:
    """Sentences of made-up article prose, all on one line."""
    rng = random.Random(seed)
    vocabulary = ["border", "water", "trade", "envoys", "province", "refugees", "treaty", "officials", "river",
                  "sanctions", "fuel", "convoy", "embassy", "talks", "delegation", "market", "crossing"]
    sentences, count = [], 0
    while count < words:
        size = rng.randint(10, 16)
        sentences.append(" ".join(rng.choice(vocabulary) for _ in range(size)).capitalize() + ".")
        count += size
    return " ".join(sentences)


def test_text_without_paragraph_breaks_is_indexed_with_a_warning(tmp_path: Path, seeds_copy: Path):
    """One long line is cut into passages and indexed, and the report warns that they all cite one ¶."""
    (seeds_copy / "wall.txt").write_text("A report with no breaks\n" + one_line_text(1200) + "\n", encoding="utf-8")
    report = build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder())
    assert report.switched and report.documents == 6 and not report.errors
    warnings = {w["source"]: w["warning"] for w in report.warnings}
    assert set(warnings) == {"wall.txt"} and "lost its paragraph breaks" in warnings["wall.txt"]


def test_a_huge_one_line_file_is_refused_before_embedding(tmp_path: Path, seeds_copy: Path):
    """A 4 MB single line is refused with the per-document passage limit; the seeds index and answer as before."""
    settings = make_settings(tmp_path, seeds_copy)
    store = Store.open(settings)
    build(seeds_copy, store, FakeEmbedder())
    question = "Iran sent weapons to the Taliban and trained their fighters"
    before = [hit.chunk.id for hit in Searcher(store, FakeEmbedder()).search(question).hits]
    text = one_line_text(620_000)
    (seeds_copy / "huge.txt").write_text(text, encoding="utf-8")
    assert 4_000_000 < len(text.encode()) < 5_000_000
    embedder = FakeEmbedder()
    report = build(seeds_copy, store, embedder)
    errors = {e["source"]: e["error"] for e in report.errors}
    assert set(errors) == {"huge.txt"} and f"{MAX_PASSAGES:,} passages" in errors["huge.txt"]
    assert embedder.calls == 0 and not report.switched
    assert [hit.chunk.id for hit in Searcher(store, FakeEmbedder()).search(question).hits] == before


@pytest.mark.parametrize(("name", "page", "words"), [("page.txt", HTML_PAGE, "HTML page"),
                                                     ("comments.txt", COMMENTS_ONLY, "no article text")])
def test_html_and_comment_pages_are_listed_in_errors_and_quote_nothing(tmp_path: Path, seeds_copy: Path,
                                                                       name: str, page: str, words: str):
    """Built beside the seeds, an HTML page and a comments page are errors; no passage of theirs is stored."""
    (seeds_copy / name).write_text(page, encoding="utf-8")
    store = Store.open(make_settings(tmp_path, seeds_copy))
    report = build(seeds_copy, store, FakeEmbedder())
    assert report.documents == 5 and [e["source"] for e in report.errors] == [name]
    assert words in report.errors[0]["error"]
    assert name not in {source.id for source, _ in Searcher(store, FakeEmbedder()).sources()}


def test_an_upload_too_long_for_the_index_is_refused(seeds_copy: Path):
    """/dossier add refuses a file over the passage limit and changes nothing in the seeds folder."""
    before = sorted(p.name for p in seeds_copy.iterdir())
    data = ("A long report\n" + one_line_text(MAX_PASSAGES * 90)).encode()
    with pytest.raises(SourceError, match="split it into several files"):
        add_source(seeds_copy, data, "long.txt", actor="moderator Ana (1)")
    assert sorted(p.name for p in seeds_copy.iterdir()) == before
