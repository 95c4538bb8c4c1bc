"""Words as a question and a passage are compared: normalised, stemmed, and figures read as numbers.

A word is a run of letters or digits, with inner hyphens, apostrophes and dots kept (ISIS-K, Iran's, U.S).
It is matched in lower case, without a possessive 's or the dots of an initialism, and through its Snowball
stem, so "killings" finds "killing" and "Iran's" finds "Iran". Figures are read as values, so "$190m" finds
"$190 million" and "four and a half" is 4.5; a four-digit number from 1900 to 2099 is a year.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")
_STEMMER = Stemmer.Stemmer("english")

_UNITS = {w: n for n, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"))}
_TENS = {w: 10 * n for n, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
                                          2)}
_SCALES = {"hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_ABBREVIATED_SCALES = {"k": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9}
NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES) | {"half", "dozen"}
# "hundreds of", "dozens of": a count with no exact value.
VAGUE_COUNTS = frozenset({"dozens", "scores", "hundreds", "thousands", "millions", "billions"})

_FIGURE = re.compile(
    r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:(?:st|nd|rd|th|s)\b)?"
    r"(?:\s?(k|m|mn|bn)\b|\s(hundred|thousand|million|billion)\b)?",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\s?([ap]\.?m\.?)?", re.IGNORECASE)

MONTHS = {name: n for n, name in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                              "september", "october", "november", "december"), 1)}
FULL_MONTHS = {name[:3]: name for name in MONTHS} | {"sept": "september"}
MONTHS |= {short: MONTHS[name] for short, name in FULL_MONTHS.items()}


def normalise(token: str) -> str:
    """Lower case, straight apostrophes, no possessive 's, no dots (U.S → us)."""
    word = token.lower().replace("’", "'")
    word = re.sub(r"'s?$", "", word)
    return word.replace(".", "")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


# British and American endings of one word: modernise/modernize, defence/defense, colour/color.
_SPELLINGS = (("isation", "ization"), ("ising", "izing"), ("ised", "ized"), ("ises", "izes"), ("ise", "ize"),
              ("yse", "yze"), ("ysed", "yzed"), ("our", "or"), ("ours", "ors"), ("tre", "ter"), ("tres", "ters"),
              ("ence", "ense"), ("ogue", "og"), ("lled", "led"), ("lling", "ling"), ("mme", "m"))


def spellings(word: str) -> set[str]:
    """The word and its other spelling, British or American: "modernise" → {"modernise", "modernize"}."""
    found = {word}
    for british, american in _SPELLINGS:
        for ending, other in ((british, american), (american, british)):
            if word.endswith(ending) and len(word) > len(ending) + 2:
                found.add(word[: -len(ending)] + other)
    return found


def words(text: str) -> list[str]:
    return [normalise(m) for m in WORD.findall(text)]


def keys(text: str) -> set[str]:
    """Every normalised word of `text`, its stem, and the parts of hyphenated words."""
    found: set[str] = set()
    for word in {normalise(token) for token in set(WORD.findall(text))}:
        parts = word.split("-") if "-" in word else []
        for w in (word, *parts):
            found.add(w)
            found.add(stem(w))
    return found


@dataclass(frozen=True)
class Figure:
    """A number in a text: its value, the words it was written as, and whether it is a year (1900 to 2099, or two
    digits after an apostrophe: '87) or a sum of money (a currency sign or word, or millions and billions)."""

    value: float
    text: str
    year: bool = False
    money: bool = False


# A currency sign before a figure, or a currency word after it: "$190m", "£5", "40 million dollars".
_CURRENCY_SIGN = re.compile(r"[$£€¥]\s?$")
_CURRENCY_WORD = re.compile(r"^\s*(?:us\s+)?(?:dollars?|euros?|pounds?|rials?|tomans?|afghanis?|rupees?|roubles?|"
                            r"rubles?|yuan|usd|eur|gbp)\b", re.IGNORECASE)
_APOSTROPHE_YEAR = re.compile(r"['’]$")


def _money(text: str, start: int, end: int, scale: float) -> bool:
    return scale >= 1e6 or bool(_CURRENCY_SIGN.search(text[max(0, start - 2) : start])
                                or _CURRENCY_WORD.match(text[end : end + 20]))


def _digit_figures(text: str, taken: list[tuple[int, int]]) -> Iterator[Figure]:
    """Numbers in digits, each one's span added to `taken`."""
    for match in _FIGURE.finditer(text):
        taken.append(match.span())
        whole, fraction, short_scale, long_scale = match.groups()
        value = float(whole.replace(",", "") + (f".{fraction}" if fraction else ""))
        scale = _ABBREVIATED_SCALES.get((short_scale or "").lower()) or _SCALES.get((long_scale or "").lower(), 1.0)
        plain = scale == 1.0 and fraction is None
        is_year = plain and ((len(whole) == 4 and 1900 <= value <= 2099)
                             or (len(whole) == 2 and bool(_APOSTROPHE_YEAR.search(text[: match.start()]))))
        money = match.group().lstrip().startswith("$") or _money(text, match.start(), match.end(), scale)
        yield Figure(value * scale, match.group().strip(), is_year, money)


_NUMBER_WORD = r"(?:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
_WORD_NUMBER = re.compile(rf"\b{_NUMBER_WORD}(?:(?:[\s-]+(?:and\s+|a\s+)*){_NUMBER_WORD})*\b")


def _word_figures(text: str, taken: list[tuple[int, int]]) -> Iterator[Figure]:
    """Numbers written in words: "nine", "thirty-four", "four and a half", "two hundred"; not the scale of a figure
    in digits (`taken`: "40 million")."""
    for match in _WORD_NUMBER.finditer(text.lower()):
        if any(start <= match.start() < end for start, end in taken):
            continue
        group = [w for w in re.split(r"[\s-]+", match.group()) if w in NUMBER_WORDS]
        if group != ["one"]:  # "one" alone is far more often a pronoun ("the one who") than a count
            value = _value(group)
            yield Figure(value, " ".join(group), money=_money(text, match.start(), match.end(), 1.0)
                         or (value >= 1e6 and not set(group) & {"half"}))


def _value(group: list[str]) -> float:
    total = current = 0.0
    for word in group:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "half":
            current += 0.5
        elif word == "dozen":
            current = (current or 1) * 12
        elif word == "hundred":
            current = (current or 1) * 100
        else:
            total += (current or 1) * _SCALES[word]
            current = 0.0
    return total + current


def figures(text: str) -> list[Figure]:
    """Every figure in the text, in digits or in words; times of day are not figures."""
    without_times = _TIME.sub(" ", text)
    taken: list[tuple[int, int]] = []
    return [*_digit_figures(without_times, taken), *_word_figures(without_times, taken)]


def times(text: str) -> set[str]:
    """Times of day as `h:mm`, with am or pm when given."""
    return {f"{int(h)}:{m}{(ap or '').replace('.', '').lower()}" for h, m, ap in _TIME.findall(text)}


CAPITALISED_RUN = re.compile(r"[A-Z][\w’'-]*\.?(?:\s+(?:(?:of|and|for|the|de|al)\s+)?[A-Z][\w’'-]*\.?)+")


def initialisms(text: str) -> Iterator[tuple[str, str]]:
    """(initials, phrase) for every run of two or more capitalised words: ("dia", "defence intelligence agency").

    Function words inside a run (of, and, for, the) are part of the phrase but give no initial.
    """
    for match in CAPITALISED_RUN.finditer(text):
        run = match.group().split()
        capitals = [i for i, w in enumerate(run) if w[0].isupper()]
        for a in range(len(capitals)):
            for b in range(a + 1, len(capitals)):
                span = run[capitals[a] : capitals[b] + 1]
                initials = "".join(w[0] for w in span if w[0].isupper()).lower()
                yield initials, normalise(" ".join(span))


INITIALS_RUN = 4  # the longest run of words whose initials an acronym may be: the set stays under 26**4 strings
INITIALS_WORD = 4  # the shortest word that gives an initial to a run in lower case
_JOINING = frozenset({"of", "and", "for", "the", "de", "al"})
_RUN_BREAK = re.compile(r"[.!?;:,()\[\]\"“”\n\x00]+")


def lower_case_initials(text: str, stopwords: frozenset[str]) -> set[str]:
    """The initials, three to INITIALS_RUN letters, of every run of content words in `text`, in any case:
    "national security adviser" gives "nsa". A run is of words of four letters or more; a joining word ("of") is
    passed over, and any other short word, function word or punctuation ends it, so that unrelated words next to
    each other seldom make an acronym's letters."""
    found: set[str] = set()
    for part in _RUN_BREAK.split(text):
        run: list[str] = []
        for word in [*(normalise(t) for t in WORD.findall(part)), ""]:
            if word in _JOINING:
                continue
            if len(word) >= INITIALS_WORD and word.isalpha() and word not in stopwords:
                run.append(word[0])
                continue
            letters = "".join(run)
            for size in range(3, INITIALS_RUN + 1):
                found.update(letters[i : i + size] for i in range(len(letters) - size + 1))
            run = []
    return found
