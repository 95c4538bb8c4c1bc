"""Reading a question: which terms are specific, what it sets aside, and what is no term at all."""

import pytest

from index.search.question import Kind, read


def kinds(question: str) -> dict[str, Kind]:
    return {t.key: t.kind for t in read(question).terms}


def test_rare_words_are_names_and_common_words_are_not():
    """A word outside common English is a name; everyday words and chat shorthand are not specific."""
    found = kinds("did zorvanek pls send guns n cash to the rebels?")
    assert found["zorvanek"] is Kind.NAME
    assert found["guns"] is Kind.WORD and found["cash"] is Kind.WORD
    assert "pls" not in found and "n" not in found


def test_a_prefix_on_a_common_word_is_not_a_name():
    """"Overpromising" is over- plus a common word, not someone's name."""
    assert kinds("are they overpromising again?")["overpromising"] is Kind.WORD


def test_capitals_make_an_acronym_unless_the_whole_question_shouts():
    """UN in capitals is an acronym; in an all-caps question, words are just words."""
    assert kinds("did the UN report on it?")["un"] is Kind.ACRONYM
    assert all(kind is not Kind.ACRONYM for kind in kinds("WHO SENT THE WEAPONS?").values())


@pytest.mark.parametrize(("question", "value"), [("did they pay $190m?", 190e6), ("about 300 fighters", 300),
                                                 ("for four and a half decades", 4.5), ("thirty-four provinces", 34),
                                                 ("in 2016", 2016)])
def test_figures_are_read_as_values(question: str, value: float):
    """Amounts, counts, number words and years become figures with their value."""
    assert value in [t.value for t in read(question).terms if t.kind is Kind.FIGURE]


def test_page_parts_are_specific():
    """A question about a photo or an ad asks about the page, not the article."""
    assert kinds("that pic with the ad under it, who took it?")["pic"] is Kind.PAGE_PART


@pytest.mark.parametrize("pasted", [
    "<@111111111111111111> says the rebels got rifles, is that true?",
    "the rebels got rifles <:angry:222222222222222222>, is that true?",
    "the rebels got rifles https://www.example-news.com/world/2019/rebels-rifles.html is that true?",
    "the rebels got rifles `see <#333333333333333333>`, is that true?",
])
def test_mentions_emoji_links_and_code_are_not_terms(pasted: str):
    """What members paste around a question reads as nothing: the same terms as the plain question."""
    plain = read("the rebels got rifles, is that true?")
    assert [t.key for t in read(pasted).terms] == [t.key for t in plain.terms]


def test_a_shouted_question_reads_as_the_same_question():
    """A question typed in capitals has the same terms as in lower case, not a list of acronyms."""
    assert [(t.key, t.kind) for t in read("WHO SENT THE RIFLES TO VELQUIST?").terms] == \
        [(t.key, t.kind) for t in read("who sent the rifles to velquist?").terms]


def test_british_spellings_of_common_words_are_not_names():
    """"Mobilise", "militarised" and "defence" are common words written the British way."""
    found = kinds("did they mobilise the defence pact? was it militarised")
    assert found["mobilise"] is Kind.WORD and found["militarised"] is Kind.WORD and found["defence"] is Kind.WORD


def test_terms_set_aside_do_not_count_as_asked():
    """"Apart from the DIA report" names what the question does not ask about."""
    query = read("apart from the DIA report what have others said?")
    assert "dia" in query.excluded and all(t.key != "dia" for t in query.specific)
