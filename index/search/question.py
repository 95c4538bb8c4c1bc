"""What a question asks: its content terms, and which of them are specific.

Specific terms are the ones an answer cannot do without, because nothing else stands in for them:
- names and other rare words: not among the ~29,000 English words used at least once per million words
  (wordfreq's "small" English list), unless they are a common word behind an English prefix ("over-", "anti-");
- acronyms, written in capitals (UN, DIA);
- figures: numbers, years, amounts and times ("2021", "$190m", "four and a half");
- the parts of a web page that are not article text (a photo, an ad, the comment section): the corpus keeps
  only article text, so a question about them has nothing to quote.
A common word ("guns", "turf") is not specific: the corpus may say the same thing in other words. Code, mentions,
custom emoji and links that members paste are no terms at all.
"""

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property

from bm25s.stopwords import STOPWORDS_EN_PLUS

from index.search.terms import (
    FULL_MONTHS,
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


# "do the sources agree?", "what does each outlet say?", "compare the articles"
_DOCUMENTS = r"(?:sources?|outlets?|articles?|reports?|papers?)"
_COMPARES = re.compile(rf"\b{_DOCUMENTS}\b[^.?!]*\b(?:agree|disagree|differ|contradict|compare)"
                       rf"|\b(?:each|every|all the|both|different|other) {_DOCUMENTS}\b|\bcompare\b", re.I)


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
    return not any(word.startswith(p) and len(word) - len(p) >= 4 and spellings(word[len(p):]) & common
                   for p in _PREFIXES)


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
    excluded: frozenset[str] = frozenset()
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


def unshouted(text: str) -> str:
    """A question written mostly in capitals, in lower case: that is shouting, not acronyms."""
    letters = [c for c in text if c.isalpha()]
    return text.lower() if sum(c.isupper() for c in letters) > len(letters) / 2 else text


def read(question: str) -> Query:
    """The question's content terms in order, figures first read as values, and what it sets aside."""
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
    for token in WORD.findall(unshouted(no_figures)):
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
    excluded = {normalise(w) for m in _EXCLUDING.finditer(question) for w in WORD.findall(m.group(1))}
    return Query(question, tuple(terms), frozenset(excluded), compares is not None, " ".join(asked.split()))
