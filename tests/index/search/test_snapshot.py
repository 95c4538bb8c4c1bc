"""What a generation's files hold is what searching computes from its passages: the BM25 index made from stored
tokens is bm25s's own, bit for bit, and the lexicon merged from each source's is the corpus's."""

import bm25s
import numpy as np

from index.ingest.chunking import chunk_document
from index.ingest.corpus import load_document, read_metadata, source_paths
from index.search.lexicon import Lexicon
from index.search.snapshot import bm25_of_tokens, tokenize
from tests.conftest import SEEDS


def seed_passages() -> dict[str, list[str]]:
    metadata = read_metadata(SEEDS)
    return {path.name: [c.text for c in chunk_document(load_document(path, metadata.get(path.name, {})))]
            for path in source_paths(SEEDS)}


def test_bm25_from_stored_tokens_is_the_index_bm25s_makes():
    """The weights, the passages they belong to and each word's span are those bm25s computes itself, including
    for a passage of stopwords only, which has no token."""
    texts = [text for passages in seed_passages().values() for text in passages] + ["It was and is what it was."]
    tokens = tokenize(texts)
    vocabulary = sorted(tokens.vocab, key=tokens.vocab.__getitem__)
    flat = np.array([t for ids in tokens.ids for t in ids], dtype=np.int32)
    ends = np.cumsum([len(ids) for ids in tokens.ids])
    ours = bm25_of_tokens(flat, ends, vocabulary)
    theirs = bm25s_index(tokens)
    for name in ("data", "indices", "indptr"):
        assert ours.scores[name].dtype == theirs.scores[name].dtype
        assert np.array_equal(ours.scores[name], theirs.scores[name]), name
    assert ours.vocab_dict == theirs.vocab_dict and ours.scores["num_docs"] == len(texts)
    assert np.array_equal(ours.get_scores(["iran", "taliban"]), theirs.get_scores(["iran", "taliban"]))


def bm25s_index(tokens: bm25s.tokenization.Tokenized) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    return index


def test_the_lexicon_merged_from_each_source_is_the_corpus_lexicon():
    """Every word, figure and acronym phrase of the corpus, and each name's near spellings, are found alike in the
    lexicon built whole and in the one merged from each source's lexicon (how a build reuses unchanged sources)."""
    passages = seed_passages()
    labels = ["Iran and the Taliban: a Defence Intelligence Agency view", "Some Outlet"]
    whole = Lexicon.build([text for texts in passages.values() for text in texts], labels)
    merged = Lexicon.merged([*(Lexicon.build(texts) for texts in passages.values()), Lexicon.build([], labels)])
    assert merged.keys == whole.keys and dict(merged.phrases) == dict(whole.phrases)
    assert {k: sorted(v) for k, v in merged.by_initial.items()} == {k: sorted(v) for k, v in whole.by_initial.items()}
