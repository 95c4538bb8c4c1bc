"""What a question asks: its content terms, which of them are specific, and what kind of answer it wants.

Specific terms are the ones an answer cannot do without, because nothing else stands in for them:
- names and other rare words: not among the ~29,000 English words used at least once per million words
  (wordfreq's "small" English list), unless they are a common word behind an English prefix ("over-", "anti-");
- acronyms, written in capitals (UN, DIA);
- figures: numbers, years, amounts and times ("2021", "$190m", "four and a half");
- the parts of a web page that are not article text (a photo, an ad, the comment section): the corpus keeps
  only article text, so a question about them has nothing to quote.
A common word ("guns", "turf") is not specific: the corpus may say the same thing in other words.

What it wants is read from its wording: a figure ("how many"), a date ("when"), a name ("who"), what someone
said ("what did X say"), and a rate's unit ("per month").
"""

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property

from bm25s.stopwords import STOPWORDS_EN_PLUS

from index.terms import (
    FULL_MONTHS,
    MONTHS,
    NUMBER_WORDS,
    VAGUE_COUNTS,
    WORD,
    figures,
    normalise,
    spellings,
    stem,
    times,
)

# Words that carry no content in a question: function words, question verbs, chat shorthand, and the
# words a member uses for the corpus itself.
_FILLER = frozenset(STOPWORDS_EN_PLUS) | frozenset("""
    also anyone anything anyway around ask asked back basically could day else ever every exactly get gets
    getting give go going gone got happen happened happening hey hi hmm idk imo im ive kind know lol maybe
    much many mean means might must need one ones pls plz ppl please probably quite rather really right say
    says said see seem seems something sort still stuff sure tbh tell tells thanks thank thx thing things
    think thought ty u ur r w n whats wheres whos hows yes yeah yet would could should shall may let lets
    like us via vs etc actually apparently anybody somebody someone exist exists whether corpus dossier bot
    """.split())
# Derivational prefixes: a rare word made of one of these and a common word is not a name.
_PREFIXES = ("over", "under", "out", "counter", "anti", "non", "pre", "post", "re", "un", "co", "mis", "sub",
             "super", "inter", "multi", "semi", "self", "ex", "pro", "de", "dis", "mega", "micro")
# Parts of a saved web page that are not article text.
PAGE_PARTS = frozenset("""
    ad ads advert adverts advertisement advertisements advertising banner banners sponsored popup popups
    pic pics picture pictures photo photos photograph photographs image images caption captions thumbnail
    thumbnails gallery slideshow newsletter paywall cookie cookies sidebar footer header navbar menu
    comments commenter commenters upvote upvotes likes
    """.split())
_EXCLUDING = re.compile(r"\b(?:apart from|aside from|besides|other than|except(?: for)?|not counting)\s+"
                        r"(?:the\s+)?([\w'’.-]+(?:\s+[\w'’.-]+)?)", re.IGNORECASE)


# What members paste that is no term of a question: code, user/role/channel mentions, custom emoji and links.
_MARKUP = re.compile(r"```.*?```|`[^`\n]*`|<a?:\w+:\d+>|<(?:@[!&]?|#)\d+>|<?https?://\S+>?", re.S)


def without_markup(text: str) -> str:
    """The text without code, Discord mentions, custom emoji and links, spaces collapsed."""
    return " ".join(_MARKUP.sub(" ", text).split())


class Wants(Enum):
    FIGURE = "a figure"
    DATE = "a date"
    NAME = "a name"
    STATEMENT = "what someone said"
    PLACE = "a place"


_WANTS = (
    (Wants.FIGURE, re.compile(r"\bhow (?:many|much)\b|\bnumber of\b|\bwhat (?:percentage|share|amount|sum)\b", re.I)),
    (Wants.DATE, re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bhow long ago\b|\bsince when\b", re.I)),
    (Wants.STATEMENT, re.compile(
        r"\b(?:what|anything)\b.*\b(?:say|said|says|saying|tell|told|claim|claimed|think|thinks|state|stated)\b"
        r"|\b(?:did|does|has|have)\b.*\b(?:say|said|claim|claimed|state|stated|mention|mentioned)\b"
        r"|\b(?:reaction|response|take|view|stance|position)\s+(?:of|from|on|to)\b", re.I)),
    # "where is it?", not the relative "the province where he is governor"
    (Wants.PLACE, re.compile(r"(?:^|[,.?!;:()-]\s*)where\b|\bwhere (?:is|are|was|were|do|does|did|can|could|exactly)\b",
                             re.I)),
    # "who confirmed it?" wants a name; "who did he blame?" may be answered by anyone or anything
    (Wants.NAME, re.compile(r"\bwho(?:m|se)?\b(?! (?:did|does|do)\b)|\bwhich (?:\w+ )?(?:officials?|people|persons?|"
                            r"leaders?|officers?|commanders?|ministers?|members?|men|women)\b|\bnames?\b", re.I)),
)
# "do the sources agree?", "what does each outlet say?", "compare the articles"
_DOCUMENTS = r"(?:sources?|outlets?|articles?|reports?|papers?)"
_COMPARES = re.compile(rf"\b{_DOCUMENTS}\b[^.?!]*\b(?:agree|disagree|differ|contradict|compare)"
                       rf"|\b(?:each|every|all the|both|different|other) {_DOCUMENTS}\b|\bcompare\b", re.I)
_UNITS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "month": "month", "monthly": "month",
          "year": "year", "yearly": "year", "annual": "year", "annually": "year", "annum": "year"}
_RATE = re.compile(r"\b(?:per|a|an|each|every)\s+(day|week|month|year|annum)\b"
                   r"|\b(daily|weekly|monthly|yearly|annually|annual)\b", re.I)


def rate_units(text: str) -> frozenset[str]:
    """The time units of the rates a text gives: "$5 a month", "monthly" → {"month"}."""
    return frozenset(_UNITS[(m.group(1) or m.group(2)).lower()] for m in _RATE.finditer(text))
_SPEAKERS = re.compile(r"\b(?:does|did|do|has|have)\s+(?:the\s+)?([\w'’.-]+(?:\s+[\w'’.-]+)?)\s+"
                       r"(?:\w+\s+)?(?:say|said|claim|claimed|state|stated|mention)", re.I)


@cache
def common_words() -> frozenset[str]:
    from wordfreq import get_frequency_dict

    return frozenset(get_frequency_dict("en", wordlist="small"))


def is_rare(word: str) -> bool:
    """Not a common English word in either spelling, nor a prefix on one: a name, most likely."""
    if not word.isalpha() or len(word) < 3:
        return False
    common = common_words()
    if any(form in common for spelling in spellings(word) for form in _singulars(spelling)):
        return False
    return not any(word.startswith(p) and len(word) - len(p) >= 4 and word[len(p):] in common for p in _PREFIXES)


def _singulars(word: str) -> set[str]:
    return {word, stem(word), word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else word,
            word[:-3] + "y" if word.endswith("ies") else word}


class Kind(Enum):
    WORD = "word"
    NAME = "name"
    ACRONYM = "acronym"
    FIGURE = "figure"
    TIME = "time"
    PAGE_PART = "page part"


@dataclass(frozen=True)
class Term:
    """A content term of a question, as written, with the key it is looked up by."""

    text: str
    key: str
    kind: Kind
    value: float | None = None

    @property
    def specific(self) -> bool:
        return self.kind is not Kind.WORD


@dataclass(frozen=True)
class Query:
    """A question read for what it asks; `topic` is its text without "do the sources agree" and the like."""

    text: str
    terms: tuple[Term, ...]
    wants: Wants | None = None
    per: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    compares: bool = False
    topic: str = ""

    @cached_property
    def specific(self) -> tuple[Term, ...]:
        """Specific terms the question asks about (not those it sets aside, as in "apart from X")."""
        return tuple(t for t in self.terms if t.specific and t.key not in self.excluded)


def _kind(token: str, word: str) -> Kind:
    letters = [c for c in token if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return Kind.ACRONYM
    if word in PAGE_PARTS:
        return Kind.PAGE_PART
    return Kind.NAME if is_rare(word) else Kind.WORD


def read(question: str) -> Query:
    """The question's content terms in order, figures first read as values, and what it wants."""
    question = without_markup(question)
    terms: list[Term] = []
    seen: set[str] = set()

    def add(term: Term) -> None:
        if term.key not in seen:
            seen.add(term.key)
            terms.append(term)

    for t in sorted(times(question)):
        add(Term(t, t, Kind.TIME))
    for f in figures(question):
        add(Term(f.text, f"#{f.value:g}", Kind.FIGURE, f.value))
    compares = _COMPARES.search(question)
    asked = question[: compares.start()] + " " + question[compares.end():] if compares else question  # not the topic
    no_figures = re.sub(r"\d[\d,.:]*\w*", " ", asked)
    letters = [c for c in no_figures if c.isalpha()]
    if sum(c.isupper() for c in letters) > len(letters) / 2:
        no_figures = no_figures.lower()  # shouting, not acronyms
    for token in WORD.findall(no_figures):
        word = normalise(token)
        word = FULL_MONTHS.get(word, word) if word != "may" else word
        kind = _kind(token, word)
        if kind is not Kind.ACRONYM and (word in _FILLER or word in NUMBER_WORDS or word in VAGUE_COUNTS
                                         or len(word) < 2):
            continue
        parts = [p for p in word.split("-") if p and p not in _FILLER] if "-" in word else [word]
        if kind is Kind.ACRONYM or len(parts) == 1:
            add(Term(token, word, kind))
        else:
            for part in parts:
                add(Term(part, part, _kind(part, part)))
    wants = next((w for w, pattern in _WANTS if pattern.search(question)), None)
    excluded = {normalise(w) for m in _EXCLUDING.finditer(question) for w in WORD.findall(m.group(1))}
    return Query(question, tuple(terms), wants, rate_units(question), frozenset(excluded),
                 frozenset(date_keys(question)), compares is not None, " ".join(asked.split()))


def speakers(query: Query) -> tuple[Term, ...]:
    """The specific terms naming who is asked about in "what did X say": X's words must be the answer's."""
    found = {normalise(w) for m in _SPEAKERS.finditer(query.text) for w in WORD.findall(m.group(1))}
    named = tuple(t for t in query.specific if t.key in found)
    return named or query.specific


_RELATIVE_DATE = re.compile(r"\b(?:last|this|next|past)\s+(?:year|month|week|spring|summer|autumn|fall|winter)\b"
                            r"|\byesterday\b|\b\d+\s+(?:years?|months?|weeks?|days?)\s+ago\b", re.I)
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())


def date_keys(text: str, capitalised_may: bool = False) -> set[str]:
    """The dates a text gives: years, months, weekdays and relative dates ("last year"), as comparable keys.

    "May" is a month only when capitalised mid-text or next to a day; questions are often typed in lower case.
    """
    found = {f"y{f.value:g}" for f in figures(text) if f.year}
    found |= {m.group().lower() for m in _RELATIVE_DATE.finditer(text)}
    for match in WORD.finditer(text):
        token = match.group()
        word = normalise(token)
        if word in _WEEKDAYS:
            found.add(word)
        elif word in MONTHS:
            if word == "may" and not _is_month_may(text, match, capitalised_may):
                continue
            found.add(f"m{MONTHS[word]}")
    return found


def _is_month_may(text: str, match: re.Match[str], capitalised_may: bool) -> bool:
    before = text[: match.start()].split()[-1:] or [""]
    after = text[match.end():].split()[:1] or [""]
    near_day = after[0][:1].isdigit() or before[0].lower() in ("in", "on", "since", "until", "of", "early", "late")
    return near_day if not capitalised_may else (match.group()[0] == "M" and match.start() > 0) or near_day
