"""Reading a question: which terms are specific, what kind of answer it wants, what it sets aside."""

import pytest

from index.question import Kind, Wants, date_keys, rate_units, read


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


@pytest.mark.parametrize(("question", "wants"), [
    ("how many fighters were trained?", Wants.FIGURE), ("when was the battle exactly", Wants.DATE),
    ("who confirmed the discovery?", Wants.NAME), ("what did the governor say about it", Wants.STATEMENT),
    ("farah, where is it?", Wants.PLACE), ("why does it matter", None),
    ("who did he blame for it", None), ("the town where he was born, why does it matter", None)])
def test_what_a_question_wants_comes_from_its_wording(question: str, wants: Wants | None):
    """Question words decide the answer's kind; "who did he blame" and a relative "where" want none."""
    assert read(question).wants is wants


def test_rates_and_dates_are_read_in_the_question_and_in_passages():
    """"Per month" and "monthly" are the same unit; "aug 14" and "August" the same month; "may" a modal verb."""
    assert rate_units("how much per month?") == rate_units("paid monthly") == {"month"}
    assert "m8" in date_keys("his aug 14 video") and "m8" in date_keys("On Saturday, August 14,")
    assert date_keys("they may go") == set() and "m5" in date_keys("went there in may")


def test_terms_set_aside_do_not_count_as_asked():
    """"Apart from the DIA report" names what the question does not ask about."""
    query = read("apart from the DIA report what have others said?")
    assert "dia" in query.excluded and all(t.key != "dia" for t in query.specific)
