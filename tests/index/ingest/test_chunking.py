"""Chunking: passages are exact spans of the source, sentence-aligned, with stable ids."""

import pytest

from index.ingest.chunking import MAX_WORDS, chunk_document, sentence_spans
from index.ingest.corpus import Document, Source, load_document, read_metadata, source_paths
from tests.conftest import SEEDS


def _seeds():
    metadata = read_metadata(SEEDS)
    return [load_document(path, metadata.get(path.name, {})) for path in source_paths(SEEDS)]


@pytest.mark.parametrize("doc", _seeds(), ids=lambda d: d.source.id)
def test_quoted_span_equals_source_slice(doc):
    """What a passage quotes is exactly the source text between its offsets."""
    for chunk in chunk_document(doc):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.source_id == doc.source.id


@pytest.mark.parametrize("doc", _seeds(), ids=lambda d: d.source.id)
def test_ids_are_deterministic_and_unique(doc):
    """Chunking the same document twice gives the same ids, and no two passages share one."""
    first, second = chunk_document(doc), chunk_document(doc)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_editing_a_paragraph_changes_only_its_ids():
    """A changed paragraph gets a new id; the passages around it keep theirs."""
    text = ("First paragraph says one thing about the talks today.\n\n"
            "Second paragraph says another thing about the talks.\n\n"
            "Third paragraph closes the story about the talks.\n")
    source = Source(id="s.txt", title="T")
    before = chunk_document(Document(source, text))
    after = chunk_document(Document(source, text.replace("another thing", "a new thing")))
    assert before[0].id == after[0].id and before[2].id == after[2].id
    assert before[1].id != after[1].id


def test_long_paragraph_splits_at_sentence_boundaries():
    """A paragraph over the word budget is cut between sentences into balanced passages."""
    sentence = "The delegation met officials in the capital to discuss border trade and security. "
    text = "Headline\n" + sentence * 12
    chunks = chunk_document(Document(Source(id="long.txt", title="Headline"), text))
    assert len(chunks) > 1
    assert all(c.text.endswith(".") and c.text[0].isupper() for c in chunks)
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert {c.paragraph for c in chunks} == {1}


def test_abbreviations_do_not_end_sentences():
    """Titles and initials such as "Maj. Gen." and "U.S." stay inside their sentence."""
    text = "Maj. Gen. Tadeen Khan Achakzai confirmed it. The U.S. Treasury agreed. Then Mr. Smith left."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Maj. Gen. Tadeen Khan Achakzai confirmed it.", "The U.S. Treasury agreed.", "Then Mr. Smith left."]
