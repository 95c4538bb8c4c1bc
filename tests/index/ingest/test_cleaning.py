"""Cleaning: article paragraphs kept, site chrome and reader comments dropped, on the seeds and made-up pages."""

import json
import re
import tomllib
from pathlib import Path

import pytest

from index.ingest.chunking import chunk_document
from index.ingest.cleaning import END_OF_ARTICLE_FILE, first_heading, paragraphs
from index.ingest.corpus import load_document, read_metadata, source_paths
from tests.conftest import SEEDS

# The opening words of every article paragraph of each seed, read off the pages by hand.
EXPECTED = json.loads((Path(__file__).parent / "data" / "seed_paragraphs.json").read_text(encoding="utf-8"))

# Lines of each seed that are chrome, captions or reader comments, not article text.
NOT_ARTICLE = {
    "000_cc1c5ba2909303bf.txt": ["Be the first to comment", "Write your comment", "This site uses Akismet"],
    "001_a36cb266d627397a.txt": ["AP Photos/Allauddin Khan", "taliban afghanistan",
                                 "Please let us know if you're having issues with commenting"],
    "002_e07d2383dc8947a8.txt": ["shown in this picture posted to social media", "An Iranian rocket found in",
                                 "Do you like this article?", "3 Comment", "Comment Policy",
                                 "Why are you creating misery?", "Pakistan is its main enemy",
                                 "No one is the enemy of Afghanistan"],
    "003_eb7467070494d04b.txt": ["ad a b", "ad ad ad", "Issued by CEMO Center", "Tuesday 17/August/2021",
                                 "Mohamed Yosry\n"],
    "004_9fd61aad6fe509e9.txt": ["728 x 90", "consulate building in Afghanistan", "Reported by PMOI/MEK",
                                 "Latest News and Articles"],
}


def _seed_documents():
    metadata = read_metadata(SEEDS)
    return [load_document(path, metadata.get(path.name, {})) for path in source_paths(SEEDS)]


@pytest.mark.parametrize("doc", _seed_documents(), ids=lambda d: d.source.id)
def test_every_article_paragraph_is_kept_in_order(doc):
    """Each seed yields exactly its article paragraphs, in reading order, numbered from 1."""
    found = paragraphs(doc.text, doc.source.title)
    assert [" ".join(p.text.split()[:6]) for p in found] == EXPECTED[doc.source.id]
    assert [p.number for p in found] == list(range(1, len(found) + 1))


@pytest.mark.parametrize("doc", _seed_documents(), ids=lambda d: d.source.id)
def test_no_chrome_or_comment_reaches_a_passage(doc):
    """No passage of a seed contains its ad slots, captions, comment box or reader comments."""
    passages = " ".join(c.text for c in chunk_document(doc))
    for line in NOT_ARTICLE[doc.source.id]:
        assert line.strip() not in passages


PAGE = """\
Ad
728 x 90
Border talks stall as envoys trade accusations
By Jane Roe | Staff Writer
March 3, 2024
Print this article
Share on Facebook

Officials from both sides met in the border town on Monday, according to a statement.
A photo of the border crossing at dawn.
A photo of the border crossing at dawn.
The talks ended without agreement after four hours, two delegates said.
Smoke rises over the market. [Reuters]
- Trade across the crossing has fallen by half since January.

Advertisement

5 Comments
This is all propaganda from the other side and everyone knows it.
Great article, thanks for writing it up for us all.
"""


def test_made_up_page_keeps_only_article_paragraphs():
    """A page never seen before loses its byline, ads, share links, captions and comments."""
    found = [p.text for p in paragraphs(PAGE, "Border talks stall as envoys trade accusations")]
    assert found == [
        "Officials from both sides met in the border town on Monday, according to a statement.",
        "The talks ended without agreement after four hours, two delegates said.",
        "Trade across the crossing has fallen by half since January.",
    ]


def test_a_one_sentence_lead_in_is_kept_with_its_list():
    """"…, including:" is article text even without a full stop; a short heading with a colon is not."""
    page = ("Port report\n\nBackground:\n\nAfter the storm the port authority took several steps, including:\n\n"
            "- Dredging the northern channel back to its old depth.\n")
    assert [p.text for p in paragraphs(page)] == [
        "After the storm the port authority took several steps, including:",
        "Dredging the northern channel back to its old depth."]


def test_spans_point_into_the_raw_page():
    """Every paragraph is an exact slice of the raw page, bullets excluded."""
    for p in paragraphs(PAGE):
        assert PAGE[p.start : p.end] == p.text


def test_title_falls_back_to_first_heading():
    """Without metadata, a page's title is its first line of article text."""
    assert first_heading(PAGE) == "Border talks stall as envoys trade accusations"


@pytest.mark.parametrize("marker", ["Leave a Reply", "Related Articles", "12 comments", "Comments (3)",
                                    "Did you enjoy this story?", "Join the discussion"])
def test_end_of_article_markers_cut_reader_comments(marker):
    """Common comment-box and related-links headings end the article, whatever follows."""
    page = f"A headline here\nThe minister spoke for an hour on Tuesday about the deal.\n{marker}\n" \
           "I disagree with every single word of this article, it is nonsense.\n"
    assert [p.text for p in paragraphs(page)] == ["The minister spoke for an hour on Tuesday about the deal."]


def test_boilerplate_only_page_has_no_paragraphs():
    """A page of nothing but chrome yields nothing to quote."""
    assert paragraphs("Ad ad ad\n728 x 90\nLatest News and Articles\nWrite your comment\n") == []


MARKERS = tomllib.loads(END_OF_ARTICLE_FILE.read_text(encoding="utf-8"))["marker"]


@pytest.mark.parametrize("marker", MARKERS, ids=lambda m: m["pattern"][:30])
def test_each_end_of_article_marker_says_where_it_was_seen_and_is_seen_there(marker):
    """Every marker in the data file says where it came from: a seed, whose lines it matches, or general use."""
    assert marker["from"].strip()
    seeds = [name for name in EXPECTED if name in marker["from"]]
    assert seeds or marker["from"].startswith("general:")
    for name in seeds:
        lines = (SEEDS / name).read_text(encoding="utf-8").splitlines()
        assert any(re.fullmatch(marker["pattern"], line.strip(), re.IGNORECASE) for line in lines), name
