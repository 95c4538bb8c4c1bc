"""The grounds a refusal stands on, read on passages of our own: what names something the corpus lacks, and what
never does (common words of every kind, typos, chat shorthand, counts of the question's own parts)."""

import pytest

from index.search.lexicon import Lexicon
from index.search.question import Kind, read
from index.search.reading import Reading

PASSAGES = [
    "The Northern Ridge Defence Council said in March 2019 that Velquist had delivered 300 rifles to the militia.",
    "Smugglers stockpiled the rifles clandestinely near the Michigan border, the ombudsman said.",
    "A Russian convoy crossed at Karsk; the border police of Karsk reported it to the national security adviser.",
    "The militia receives $2 million a year from its backers, according to the report.",
]
LEXICON = Lexicon.build(PASSAGES, ["The Ridge Papers"])


def missing(question: str) -> tuple[str, ...]:
    return Reading.of(read(question), LEXICON).missing_phrases()


@pytest.mark.parametrize("question", [
    "abt the rifles, pls, which of the reports says so tbh",  # chat shorthand
    "IMO the council lied, FYI",  # chat shorthand in capitals
    "who was stockpiling rifles so surreptitiously and who underwrote it?",  # rare verbs and adverbs
    "Did the Ombudsman order a Crackdown on the Smugglers?",  # common words with capitals
    "which militia recieved the rifels tommorow?",  # misspelt common words
    "the three reports and both sources: do all three agree on the 300 rifles?",  # counts of the question's parts
    "was the rollout of the handover a walkout?",  # a verb and a particle written as one word
    "did the PM reopen the misreported case?",  # an acronym a dictionary lists in lower case; prefixed words
])
def test_common_words_of_every_kind_are_never_missing(question: str):
    """No common word, however it is typed, spelt or capitalised, is reported as something the corpus never
    mentions: a refusal on it would refuse a question the corpus may answer."""
    assert missing(question) == ()


@pytest.mark.parametrize(("question", "named"), [
    ("did Nairobi send rifles?", ("Nairobi",)),
    ("did halvard brennick meet the militia?", ("Halvard Brennick",)),
    ("what did the IAEA say about the rifles?", ("IAEA",)),
    ("what happened to the rifles in 2023?", ("2023",)),
    ("did they pay $40m for the rifles?", ("$40m",)),
    ("did the Coast Guard stop the convoy?", ("Coast Guard",)),
])
def test_names_years_and_sums_the_corpus_lacks_are_missing(question: str, named: tuple[str, ...]):
    """A person, place, body, year or sum the corpus never mentions is named, as the question wrote it."""
    assert missing(question) == named


@pytest.mark.parametrize("question", [
    "did velquist's rifles reach the militia?",  # a possessive
    "what did the Russia convoy carry?",  # a place finds its people: Russia, Russian
    "did the NSA hear of it?",  # an acronym the corpus writes out in lower case
    "what did the Border Police of Karsk report?",  # a name of common words the corpus writes in lower case
    "anything from Mich about the smugglers?",  # a short name for a longer one
    "did the council speak in '19?",  # a two-digit year
    "did Velquist deliver 450 rifles?",  # a count the corpus does not give is a detail, not a name
])
def test_what_the_corpus_mentions_in_another_form_is_not_missing(question: str):
    """The corpus mentions a name in another form (possessive, people of a place, spelt-out acronym, lower case, a
    short form) or a year in two digits; a count is no ground at all."""
    assert missing(question) == ()


def test_a_name_spelt_another_way_with_hyphens_is_the_same_name():
    """"Mazar i Sharif" asked finds "Mazar-e-Sharif" written: the words of a hyphenated name are its parts."""
    lexicon = Lexicon.build(["Gunmen stormed the consulate in Mazar-e-Sharif in 1998."])
    assert Reading.of(read("what happened at mazar i sharif in 98?"), lexicon).missing == ()


def test_a_question_in_title_case_names_no_phrase():
    """Capitals on every word are a title's case, not a name made of common words."""
    assert read("What Did The Border Guards Say?").phrases == ()
    assert [t.text for t in read("what did the Border Guards say?").phrases] == ["Border Guards"]


def test_months_and_page_parts():
    """A month is a date, not a name; a photo or the reader comments are parts of a page the corpus does not keep."""
    assert missing("what did the council say in November?") == ()
    assert missing("who took the photo, and what do the reader comments say?") == ("photo", "comments")
    assert all(t.kind is not Kind.PAGE_PART for t in read("what were his comments on the rifles?").terms)


def test_a_quotation_is_read_in_plain_words():
    """What a question quotes is kept, in lower case without punctuation, to be found in a passage."""
    assert read('Did Nairobi say "Velquist had delivered 300 rifles, to the militia"?').quotes == \
        ("velquist had delivered 300 rifles to the militia",)
