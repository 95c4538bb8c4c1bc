"""Answerability on made-up passages: missing terms, near spellings, acronyms, and the answer a question wants."""

from index.answerability import Reading
from index.lexicon import Lexicon, Passage
from index.question import read

PASSAGES = [
    "The Northern Ridge Defence Council said in March 2019 that Velquist had delivered 300 rifles to the militia.",
    "Commander Orlan Tessmark confirmed the shipment, adding that it was paid for in cash.",
    "The militia receives $2 million a year from its backers, according to the report.",
    "The depot lies near Karsk, along the eastern border.",
]
LEXICON = Lexicon.build(PASSAGES, ["The Ridge Papers"])


def reading(question: str) -> Reading:
    return Reading.of(read(question), LEXICON)


def passage(i: int) -> Passage:
    return Passage(PASSAGES[i], PASSAGES[i - 1] if i else "", "The Ridge Papers")


def test_a_name_the_corpus_never_mentions_is_missing():
    """Someone the passages never name is reported as missing, with the question's own words."""
    assert reading("did zorvanek send rifles to the militia?").missing_phrases() == ("Zorvanek",)


def test_adjacent_missing_names_are_reported_together():
    """Two missing words of one name come back as one phrase."""
    assert reading("has halvard brennick met tessmark?").missing_phrases() == ("Halvard Brennick",)


def test_a_misspelt_name_is_found():
    """A name one or two letters off, with the same first letter, still counts as mentioned."""
    assert reading("what did tessmarck confirm?").missing == ()


def test_an_acronym_is_found_through_the_words_it_stands_for():
    """NRDC finds "Northern Ridge Defence Council"; two-letter acronyms must be written as such."""
    assert reading("what did the NRDC say?").missing == ()
    assert [t.key for t in reading("did the UN say anything?").missing] == ["un"]


def test_a_figure_is_found_by_its_value_and_a_missing_figure_is_reported():
    """"$2m" finds "$2 million"; a year the corpus never gives is missing."""
    assert reading("did they get $2m?").missing == ()
    assert [t.text for t in reading("what happened in 2023?").missing] == ["2023"]


def test_how_many_wants_a_count_not_a_year():
    """A passage with a count supports "how many"; one with only a year does not."""
    question = reading("how many rifles did velquist deliver?")
    assert question.supports(passage(0))
    assert not reading("how many rifles did they confirm?").gives(Passage("It began in 2019.", "", ""))


def test_what_someone_said_needs_them_in_the_passage_with_a_reporting_verb():
    """"What did Tessmark say" is supported where Tessmark speaks, not where he is only nearby."""
    question = reading("what did tessmark say about the shipment?")
    assert question.supports(passage(1))
    assert not question.supports(passage(2))


def test_who_wants_a_persons_name_not_a_bodys():
    """"Which officials" is answered by a passage naming a person, not by one naming only a council; a surname
    that is a common word counts after a title."""
    question = reading("which officials confirmed the rifles?")
    assert question.gives(passage(1))
    assert not question.gives(passage(0))
    assert question.gives(Passage("President Alan Green confirmed it.", "", ""))


def test_a_rate_needs_the_same_unit():
    """"Per month" is not answered by a yearly amount."""
    assert reading("how much do they get a year?").supports(passage(2))
    assert not reading("how much do they get per month?").supports(passage(2))


def test_a_passage_must_mention_the_specific_terms():
    """A passage without any of the question's names does not support it; the passage before it counts."""
    question = reading("where is velquist's depot?")
    assert not question.supports(passage(3))
    assert reading("where did tessmark confirm the shipment?").supports(passage(1)) is False
    assert reading("when did velquist deliver the rifles?").supports(passage(0))
