"""What a question asks: its content terms, and which of them name something.

A term names something when nothing else can stand in for it, so a corpus that never mentions it cannot answer:
- a name: a word that English does not list in lower case (index/search/english.py): "Kabul", "Velquist", not
  "stockpiling", "ombudsman" or "rollout", in any casing; nor a misspelt common word typed in lower case
  ("definitly"), nor a short word typed in lower case ("abt", "gvt"), which is more often chat shorthand than a name;
- an acronym, written in capitals (UN, DIA);
- a year or a sum of money ("2016", "'87", "$40m", "two million dollars"). Other figures are terms too ("300
  rifles", "two of the reports"), but a count is a detail of an answer, or of the question itself, not
  something the corpus must name;
- a part of a web page that is not article text (a photo, an ad, the reader comments): the corpus keeps only
  article text, so a question about them has nothing to quote.
A common word ("rifles", "territory") names nothing: the corpus may say the same thing in other words. Code, mentions,
custom emoji and links that members paste are no terms at all.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property

from bm25s.stopwords import STOPWORDS_EN_PLUS

from index.search.english import listed_in_lower_case, misspelt_common_word
from index.search.terms import (
    CAPITALISED_RUN,
    FULL_MONTHS,
    MONTHS,
    NUMBER_WORDS,
    VAGUE_COUNTS,
    WORD,
    figures,
    normalise,
    times,
)

# Words that carry no content in a question: function words, question verbs, chat shorthand, and the
# words a member uses for the corpus itself.
# Chat shorthand and the words of asking, which carry no content in a question; in capitals too ("IMO").
_CHAT = frozenset("""
    also anyone anything anyway around ask asked back basically could day else ever every exactly get gets
    getting give go going gone got happen happened happening hey hi hmm idk imo im ive kind know lol maybe
    much many mean means might must need one ones pls plz ppl please probably quite rather really right say
    says said see seem seems something sort still stuff sure tbh tell tells thanks thank thx thing things
    think thought ty u ur r w n whats wheres whos hows yes yeah yet would could should shall may let lets
    like us via vs etc actually apparently anybody somebody someone exist exists whether corpus dossier bot
    btw fyi omg smh afaik iirc imho
    """.split())
# Function words, question verbs and chat: no content. "US" and "IT" in capitals are acronyms, not function words.
_FILLER = frozenset(STOPWORDS_EN_PLUS) | _CHAT
# Parts of a saved web page that are not article text, as words that mean nothing else in a question about news.
PAGE_PARTS = frozenset("""
    ad ads advert adverts advertisement advertisements popup popups pic pics photo photos photograph photographs
    caption captions thumbnail thumbnails slideshow paywall sidebar navbar commenter commenters
    """.split())
# "the reader comments", "the comment section", "comments under the article": comments by readers, not remarks.
_READER_COMMENTS = re.compile(r"\b(?:readers?[’']?|users?[’']?|the)\s+comments?\s+(?:section|box|thread|under|below)\b"
                              r"|\b(?:readers?[’']?|users?[’']?)\s+comments\b|\bcomments?\s+(?:section|box)\b", re.I)
SHORTHAND = 3  # a word this short, typed in lower case, is more often chat shorthand ("abt", "afg") than a name
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


def is_name(token: str, word: str) -> bool:
    """Whether a word, as typed (`token`) and normalised (`word`), names someone or something (see above)."""
    if not word.isalpha() or len(word) < 2 or listed_in_lower_case(word):
        return False
    if token.islower():
        return len(word) > SHORTHAND and misspelt_common_word(word) is None
    return True


class Kind(Enum):
    WORD = "word"
    NAME = "name"
    ACRONYM = "acronym"
    PHRASE = "phrase"  # a name made of common words, written with capitals: "Supreme Court"
    FIGURE = "figure"
    TIME = "time"
    PAGE_PART = "page part"


@dataclass(frozen=True)
class Term:
    """A content term of a question, as written, with the key it is looked up by; `names` when it names something
    (see above), so that a corpus that never mentions it cannot answer."""

    text: str
    key: str
    kind: Kind
    value: float | None = None
    names: bool = False

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
    phrases: tuple[Term, ...] = ()  # names made of common words, beside the words in `terms`
    quotes: tuple[str, ...] = ()  # what the question quotes (QUOTED_WORDS or more), normalised by `plain_words`

    @cached_property
    def specific(self) -> tuple[Term, ...]:
        """Specific terms the question asks about (not those it sets aside, as in "apart from X")."""
        return tuple(t for t in self.terms if t.specific and t.key not in self.excluded)

    @cached_property
    def naming(self) -> tuple[Term, ...]:
        """The terms that name something (see above) that the question asks about."""
        return (*(t for t in self.specific if t.names), *(t for t in self.phrases if t.key not in self.excluded))


def _term(token: str, word: str) -> Term:
    letters = [c for c in token if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return Term(token, word, Kind.ACRONYM, names=not listed_in_lower_case(word))
    if word in PAGE_PARTS:
        return Term(token, word, Kind.PAGE_PART, names=True)
    return Term(token, word, Kind.NAME, names=True) if is_name(token, word) else Term(token, word, Kind.WORD)


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
        add(Term(f.text, f"#{f.value:g}", Kind.FIGURE, f.value, names=f.year or f.money))
    if _READER_COMMENTS.search(question):
        add(Term("comments", "comments", Kind.PAGE_PART, names=True))
    compares = _COMPARES.search(question)
    asked = question[: compares.start()] + " " + question[compares.end():] if compares else question  # not the topic
    no_figures = re.sub(r"\d[\d,.:]*\w*", " ", asked)
    for token in WORD.findall(unshouted(no_figures)):
        word = normalise(token)
        word = FULL_MONTHS.get(word, word) if word != "may" else word
        term = Term(token, word, Kind.WORD) if word in MONTHS else _term(token, word)  # a month is a date, no name
        if word in _CHAT or (term.kind is not Kind.ACRONYM and (word in _FILLER or word in NUMBER_WORDS
                                                               or word in VAGUE_COUNTS or len(word) < 2)):
            continue
        parts = [p for p in word.split("-") if p and p not in _FILLER] if "-" in word else [word]
        if term.kind is Kind.ACRONYM or len(parts) == 1:
            add(term)
        else:
            for part in parts:
                add(_term(part if token.islower() else part.capitalize(), part))
    excluded = {normalise(w) for m in _EXCLUDING.finditer(question) for w in WORD.findall(m.group(1))}
    quotes = tuple(plain_words(q) for q in _QUOTED.findall(question) if len(q.split()) >= QUOTED_WORDS)
    return Query(question, tuple(terms), frozenset(excluded), compares is not None, " ".join(asked.split()),
                 tuple(_phrases(no_figures)), quotes)


QUOTED_WORDS = 4  # a quotation this long, found in a passage, is the corpus's own words
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]")


def plain_words(text: str) -> str:
    """The text's words in lower case, one space apart: to find a quotation whatever its punctuation."""
    return " ".join(w.lower() for w in re.findall(r"[^\W_]+", text))


_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(]\s*|\n)$")
PHRASE_WORDS = 2  # capitalised common words in a row that make a name


def _phrases(text: str) -> Iterator[Term]:
    """Names made of common words, as English writes names, with capitals: "the Supreme Court", "Border Police".

    A word opening a sentence is capitalised anyway, so it does not count; nor does a question written in title
    case. A run is cut at a name of its own ("Velquist Border Police": "Border Police"), which is read as one."""
    if sum(w[:1].isupper() and w.lower() in STOPWORDS_EN_PLUS for w in WORD.findall(text)[1:]) >= 2:
        return  # "What Did The Report Say": function words with capitals, a title's case
    for match in CAPITALISED_RUN.finditer(text):
        run = [w.rstrip(".") for w in match.group().split()]
        if _SENTENCE_START.search(text[: match.start()]):
            run = run[1:]
        segment: list[str] = []
        for word in [*run, ""]:
            if word and (not word[:1].isupper() or (listed_in_lower_case(normalise(word)) and not word.isupper())):
                segment.append(word)
                continue
            while segment and not segment[-1][:1].isupper():  # "the Border Police of": no joining word at an end
                segment.pop()
            while segment and not segment[0][:1].isupper():
                segment.pop(0)
            capitals = [w for w in segment if w[:1].isupper()]
            if len(capitals) >= PHRASE_WORDS:
                phrase = " ".join(segment)
                yield Term(phrase, f"phrase:{normalise(phrase)}", Kind.PHRASE, names=True)
            segment = []
