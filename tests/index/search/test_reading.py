"""A question read against made-up passages: missing terms, near spellings, acronyms, the answer it wants."""

from index.search.lexicon import Lexicon, Passage
from index.search.question import read
from index.search.reading import Reading

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
    assert reading("what did tesmark confirm?").missing == ()


def test_an_acronym_is_found_through_the_words_it_stands_for():
    """NRDC finds "Northern Ridge Defence Council"; two-letter acronyms must be written as such."""
    assert reading("what did the NRDC say?").missing == ()
    assert [t.key for t in reading("did the UN say anything?").missing] == ["un"]


def test_a_figure_is_found_by_its_value_and_a_missing_figure_is_reported():
    """"$2m" finds "$2 million"; a year the corpus never gives is missing."""
    assert reading("did they get $2m?").missing == ()
    assert [t.text for t in reading("what happened in 2023?").missing] == ["2023"]


def test_a_british_spelling_finds_the_american_one_and_is_never_a_name():
    """"Mobilise" is a common word in British spelling: found where the corpus writes "mobilize"."""
    lexicon = Lexicon.build(["Militias tried to mobilize the province."])
    question = Reading.of(read("did they mobilise the province?"), lexicon)
    assert question.missing == () and question.query.specific == ()


def test_another_transliteration_of_a_name_is_found():
    """A name spelt as another writer transliterates it counts as mentioned ("Tessmarck" for "Tessmark")."""
    assert reading("what did tessmarck confirm?").missing == ()


def test_a_two_digit_year_finds_the_year():
    """"In 19" finds 2019, as members write years; a two-digit figure no year stands for is missing."""
    assert reading("what did the council say in '19?").missing == ()
    assert [t.text for t in reading("what did the council say in '47?").missing] == ["47"]


def test_the_terms_a_passage_mentions_count_with_the_one_before_it_and_its_source():
    """A passage mentions a term that is in its own text, the passage it leans on, or its source's title."""
    question = reading("did velquist confirm the ridge shipment?")
    names = question.present_specific
    assert question.found(passage(1), names) == 1  # Velquist is in the passage before it
    assert question.found(Passage("Nothing here.", "", ""), names) == 0
    assert question.found(Passage("Nothing here.", "", "The Ridge Papers"), question.query.terms) == 1
