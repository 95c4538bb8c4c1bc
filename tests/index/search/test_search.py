"""Search behaviour a reader notices: verbatim quotes, abstention, duplicates collapsed, model checks."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from index.builds.pipeline import build
from index.ingest.chunking import Chunk
from index.model.embedding import ModelError, verify_weights
from index.search.answer import Outcome
from index.search.searcher import Searcher
from index.search.snapshot import leans_on
from index.search.terms import stem
from index.store.chroma import Store
from index.store.pointer import StoreError
from tests.conftest import ROOT, SEEDS, FakeEmbedder, make_settings

COMPARE_TOPICS = ROOT / "bench" / "data" / "compare_topics.jsonl"


def test_quotes_are_verbatim_spans_of_their_source(searcher):
    """Every quoted passage is the exact text between its offsets in the source file."""
    answer = searcher.search("What is in the US Defence Intelligence Agency's report on Iran?", limit=10)
    assert answer.answered
    for hit in answer.hits:
        raw = (SEEDS / hit.source.id).read_text(encoding="utf-8")
        assert raw[hit.chunk.start : hit.chunk.end] == hit.chunk.text


@pytest.mark.parametrize("question", ["How do I make pancakes fluffy?", "What's a good name for a goldfish?",
                                      "How many moons does Jupiter have?", "Can someone help me with my homework?"])
def test_off_topic_questions_are_not_answered(searcher, question):
    """Questions the corpus has nothing on get no quote at all, and are told so as off-topic."""
    answer = searcher.search(question)
    assert answer.hits == () and answer.related == () and answer.outcome is Outcome.OFF_TOPIC


@pytest.mark.parametrize(("question", "missing"), [
    ("What did Zorvanek say about the Taliban's weapons from Iran?", ("Zorvanek",)),
    ("how much money did iran give the taliban in 2024?", ("2024",)),
    ("is the IAEA looking into iranian support for the taliban?", ("IAEA",))])
def test_on_topic_questions_about_what_the_corpus_never_mentions_are_not_answered(searcher, question, missing):
    """On topic but about a name, year or body the corpus never mentions: no passage, the term named, and up to
    three related passages instead."""
    answer = searcher.search(question)
    assert answer.outcome is Outcome.NOT_ANSWERED and answer.hits == ()
    assert answer.missing == missing
    assert 1 <= len(answer.related) <= 3


def test_a_how_many_question_is_answered_by_a_passage_with_a_count(searcher):
    """"How many" puts a passage with a count first, not one that only shares the topic."""
    first = searcher.search("how many of Iran's diplomats were killed by the taliban?").hits[0]
    assert "nine Iranian diplomats" in first.chunk.text


@pytest.mark.parametrize("pasted", [
    "<@111111111111111111> Iran trained Taliban fighters in military academies, is that true?",
    "https://news.example.org/2018/08/19/world/asia/iran-taliban.html Iran trained Taliban fighters in military "
    "academies, is that true?",
    "Iran trained Taliban fighters in military academies <:think:222222222222222222>, is that true?"])
def test_a_question_pasted_with_a_mention_a_link_or_an_emoji_gets_the_plain_questions_answer(searcher, pasted):
    """A mention, a link or a custom emoji around a claim changes nothing: the same passages as the plain claim."""
    plain = searcher.search("Iran trained Taliban fighters in military academies, is that true?")
    answer = searcher.search(pasted)
    assert answer.answered and answer.missing == ()
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in plain.hits]


def test_who_did_it_is_answered_by_a_body_as_well_as_a_person(searcher):
    """"Who killed the diplomats?" is answered by the passage saying the Taliban did, though it names no person."""
    answer = searcher.search("Who killed the Iranian diplomats in 1998?")
    assert answer.answered
    assert any("diplomats" in h.chunk.text and "Taliban" in h.chunk.text for h in answer.hits[:3])


def test_a_question_comparing_the_sources_gets_each_one_first(searcher):
    """"What does each source say" puts one passage of every source that speaks to it before any second one."""
    answer = searcher.search("What does each source say about weapons Iran sends the Taliban?", limit=15)
    sources = [hit.source.id for hit in answer.hits]
    speaking = len(set(sources))
    assert speaking >= 4 and len(set(sources[:speaking])) == speaking


def test_list_items_lean_on_their_lead_in():
    """A passage ending in a colon introduces the list items after it, however many, up to the first passage that
    is no item; others lean on the one before."""
    texts = ["Intro.", "The council did four things, including:", "First.", "Second.", "Third.", "Fourth.", "After."]
    items = {2, 3, 4, 5}
    chunks = [Chunk(str(i), "a.txt", t, 0, len(t), i + 1, i in items) for i, t in enumerate(texts)] + [
        Chunk("x", "b.txt", "Other source.", 0, 13, 1)]
    assert leans_on(chunks) == [None, 0, 1, 1, 1, 1, 5, None]


def test_a_lists_items_follow_its_lead_in(tmp_path: Path, embedder):
    """A lead-in ("…, including:") is followed by its items in the answer, in the order the article gives them."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    items = ["Dredging the northern channel back to its old depth.", "Rebuilding the breakwater with concrete blocks.",
             "Moving the fuel depot two miles inland."]
    bullets = "\n\n".join(f"- {item}" for item in items)
    (seeds / "a.txt").write_text("Harbour report\n\nAfter the storm the port authority took several steps, including:"
                                 f"\n\n{bullets}\n\nFishermen said the work took two years.\n", encoding="utf-8")
    (seeds / "b.txt").write_text("Storm diary\n\nThe storm flooded the harbour and sank four fishing boats.\n\n"
                                 "The port authority's steps after the storm were criticised as slow.\n",
                                 encoding="utf-8")
    settings = make_settings(tmp_path, seeds)
    build(seeds, Store.open(settings), embedder)
    texts = [h.chunk.text for h in Searcher.open(settings, embedder).search(
        "what did the port authority do after the storm?", limit=10).hits]
    lead_in = next(i for i, t in enumerate(texts) if t.endswith("including:"))
    assert texts[lead_in + 1 : lead_in + 4] == items


def test_paging_continues_where_the_first_page_ended(searcher):
    """Asking for the next page gives further passages, none repeated."""
    question = "How does Iran support the Taliban?"
    first, second = searcher.search(question, limit=3), searcher.search(question, limit=3, offset=3)
    assert first.total >= 6
    assert not {h.chunk.id for h in first.hits} & {h.chunk.id for h in second.hits}


def test_context_returns_neighbouring_paragraphs_of_the_same_source(searcher):
    """Context around a passage is the passages before and after it, from its own source only."""
    hit = searcher.search("How many Taliban fighters got Iranian visas?").hits[0]
    around = searcher.context(hit.chunk.id)
    assert hit.chunk in around and len(around) == 3
    assert {c.source_id for c in around} == {hit.source.id}
    assert [c.paragraph for c in around] == [hit.chunk.paragraph - 1, hit.chunk.paragraph, hit.chunk.paragraph + 1]


def test_near_duplicate_passages_are_quoted_once(tmp_path: Path, embedder):
    """The same paragraph syndicated in two files is quoted once, not twice."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    body = ("The border crossing at Islam Qala reopened on Monday after a week of talks between officials, "
            "traders said.\n\nFuel tankers queued for miles on both sides of the border.\n")
    (seeds / "a.txt").write_text("First outlet headline\n\n" + body, encoding="utf-8")
    (seeds / "b.txt").write_text("Second outlet headline\n\n" + body.replace("traders said", "traders told us"),
                                 encoding="utf-8")
    settings = make_settings(tmp_path, seeds)
    build(seeds, Store.open(settings), embedder)
    answer = Searcher.open(settings, embedder).search("When did the Islam Qala border crossing reopen?")
    reopen = [h for h in answer.hits if "reopened on Monday" in h.chunk.text]
    assert len(reopen) == 1


def test_a_model_other_than_the_index_one_is_refused(tmp_path: Path):
    """Searching with a different model than the index was built with says to rebuild."""
    settings = make_settings(tmp_path)
    build(SEEDS, Store.open(settings), FakeEmbedder("model-a"))
    with pytest.raises(ModelError, match="python -m index build"):
        Searcher.open(settings, FakeEmbedder("model-b"))


def test_an_empty_store_says_to_build(tmp_path: Path):
    """Opening a searcher on a store that was never built explains what to run."""
    with pytest.raises(StoreError, match="python -m index build"):
        Searcher.open(make_settings(tmp_path), FakeEmbedder())


def test_tampered_weights_are_refused(tmp_path: Path):
    """Weights whose sha256 is not the upstream file's are not loaded, and the error says so."""
    (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
    with pytest.raises(ModelError, match="refusing to load"):
        verify_weights(tmp_path)


@pytest.mark.parametrize("question", ["who's Mnuchin?", "who's Nobakht?", "anything about Bagher Nobakht",
                                      "what did Mnuchin say", "Bashar al-Assad?", "tell me about Nobakht"])
def test_a_short_question_naming_someone_the_corpus_names_is_never_off_topic(searcher, question):
    """However short, a question that names a person or body the corpus names is answered with its passages."""
    answer = searcher.search(question)
    assert answer.outcome is Outcome.ANSWERED and answer.hits


def test_a_question_quoting_a_passage_is_answered_whatever_else_it_names(searcher):
    """A claim that quotes the corpus is checked against the passage it quotes, though it names someone the corpus
    never mentions."""
    answer = searcher.search('A blog says Velquist told reporters "the strongest Taliban here are Iranian Taliban". '
                             "Who said it?")
    assert answer.answered
    assert any("The strongest Taliban here are Iranian Taliban" in hit.chunk.text for hit in answer.hits[:3])


def test_a_name_the_corpus_lacks_is_a_refusal_with_the_closest_passages(searcher):
    """Asked about someone the corpus never names, the answer refuses on that ground and shows related passages."""
    answer = searcher.search("did velquist fund the taliban?")
    assert answer.outcome is Outcome.NOT_ANSWERED and answer.missing == ("Velquist",)
    assert answer.hits == () and answer.related


def test_compare_never_calls_a_source_that_addresses_a_topic_silent(searcher):
    """On the repository's own compare topics, no source that addresses a topic is said to say nothing on it, and
    on a topic off the corpus's subject every source is."""
    for line in COMPARE_TOPICS.read_text(encoding="utf-8").splitlines():
        topic = json.loads(line)
        said = {s.source.id: s for s in searcher.compare(topic["topic"])}
        assert all(said[source].hit is not None for source in topic["addressed_by"]), topic["topic"]
        if not topic["addressed_by"]:
            assert all(s.hit is None for s in said.values()), topic["topic"]


def test_lexical_scores_do_not_depend_on_the_order_of_the_words(searcher):
    """BM25 scores are the same however a question's words come (a set's order follows the process's hash seed), so
    the same question gets the same passages in the same order after every restart."""
    index = searcher.index
    for chunk in index.chunks[::5]:
        words = [stem(w) for w in re.findall(r"[a-z]{4,}", chunk.text.lower())][:8]
        assert np.array_equal(index._bm25_scores(words), index._bm25_scores(words[::-1])), words
