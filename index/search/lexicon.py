"""What the corpus mentions: every word, acronym, figure and time in it, to find a question's terms in it.

A term is found when the corpus has:
- its word or its stem, in British or American spelling ("modernise" finds "modernize");
- for a name, a spelling one letter off (two for words of eight letters or more, with the same first letter), as
  typos and other transliterations are ("Gadaffi" finds "Gaddafi");
- for an acronym, its words as the corpus writes them: capitalised ("DIA" finds "Defence Intelligence Agency"), or,
  for three letters or more, in lower case too ("NSA" finds "national security adviser");
- for a short name, a longer word it abbreviates ("Mich" finds "Michigan");
- for a figure, the same value; for a two-digit number, the year it may stand for ('87: 1987).
"""

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from bm25s.stopwords import STOPWORDS_EN_PLUS
from rapidfuzz.distance import Levenshtein

from index.search.question import Kind, Term
from index.search.terms import (
    INITIALS_RUN,
    WORD,
    figures,
    initialisms,
    keys,
    lower_case_initials,
    normalise,
    spellings,
    stem,
    times,
    words,
)

STOPWORDS = frozenset(STOPWORDS_EN_PLUS)
ABBREVIATION = (3, 4)  # the lengths of a name that may abbreviate a longer word: "Mich", "Jpn"
ABBREVIATED = 3  # letters an abbreviation leaves out at least


def figure_key(value: float) -> str:
    return f"#{value:g}"


@dataclass(frozen=True)
class Passage:
    """One passage as evidence: what it says, with the passage it leans on and its source's title, outlet and
    author."""

    text: str
    context: str
    source: str

    @cached_property
    def window(self) -> set[str]:
        return _keys_with_figures(f"{self.context}\n{self.text}\n{self.source}")

    @cached_property
    def phrases(self) -> str:
        return " ".join(words(f"{self.context}\n{self.text}\n{self.source}"))

    @cached_property
    def words(self) -> set[str]:
        """Its lower-cased words, for telling near-duplicates apart."""
        return set(re.findall(r"\w+", self.text.lower()))


def _keys_with_figures(text: str) -> set[str]:
    return keys(text) | {figure_key(f.value) for f in figures(text)} | times(text)


@dataclass
class Lexicon:
    """Every key of the corpus, its acronyms' phrases, and its words by first letter for near spellings."""

    keys: set[str] = field(default_factory=set)
    phrases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    initials: set[str] = field(default_factory=set)  # of runs of words in any case: a bounded set of short strings
    by_initial: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    words: tuple[str, ...] = ()  # sorted, for the words a short name may abbreviate

    @classmethod
    def build(cls, passages: Iterable[str], labels: Iterable[str] = ()) -> "Lexicon":
        """From the passages, and the labels they are shown with (titles, outlets, authors)."""
        lexicon = cls()
        text = "\x00".join([*passages, *labels])  # one pass over the whole corpus; \x00 ends every run of words
        lexicon.keys = _keys_with_figures(text)
        for initials, phrase in initialisms(text):
            lexicon.phrases[initials].add(phrase)
        lexicon.initials = lower_case_initials(text, STOPWORDS)
        lexicon._index_words()
        return lexicon

    @classmethod
    def merged(cls, parts: Iterable["Lexicon"]) -> "Lexicon":
        """The lexicon of the texts of all the parts together (each built from some of them): nothing in it spans
        two passages, so it is their union."""
        lexicon = cls()
        for part in parts:
            lexicon.keys |= part.keys
            for initials, phrases in part.phrases.items():
                lexicon.phrases[initials] |= phrases
            lexicon.initials |= part.initials
        lexicon._index_words()
        return lexicon

    def _index_words(self) -> None:
        """The words by first letter, for near spellings, and in order, for the words a short name abbreviates."""
        for word in self.keys:
            if len(word) >= 4 and word.isalpha():
                self.by_initial[word[0]].append(word)
        self.words = tuple(sorted(w for w in self.keys if w.isalpha()))

    def forms(self, term: Term) -> frozenset[str]:
        """The keys and phrases under which the corpus mentions the term; empty when it never does."""
        if term.kind is Kind.FIGURE:
            return frozenset(k for k in _figure_keys(term) if k in self.keys)
        if term.kind is Kind.TIME:
            return frozenset({term.key}) if term.key in self.keys else frozenset()
        if term.kind is Kind.PHRASE:
            return self._phrase(term.text)
        found = {k for spelling in spellings(term.key) for k in (spelling, stem(spelling)) if k in self.keys}
        if term.kind is Kind.ACRONYM:
            found |= self.phrases.get(term.key, set())
            if not found and len(term.key) >= 3 and term.key in self.initials:
                found.add(term.key)  # written out in lower case: mentioned, though no passage has the letters
        elif term.kind is Kind.NAME:
            found |= {k for k in (stem(w) for w in related_names(term.key)) if k in self.keys}
            if not found:  # a misspelt name; a common word is not a misspelling
                near = self._near(term.key) or self._abbreviated(term.key)
                found = {*near, *(stem(w) for w in near)}
        return frozenset(found)

    def _phrase(self, phrase: str) -> frozenset[str]:
        """A name made of common words ("Border Police") is mentioned when each of its words is, and, for three words
        or more, the corpus writes it with capitals or some run of its words has its initials (in any case)."""
        capitals = [normalise(w) for w in WORD.findall(phrase) if w[:1].isupper()]
        if not all(self.keys & {k for s in spellings(w) for k in (s, stem(s))} for w in capitals):
            return frozenset()
        initials = "".join(w[0] for w in capitals)
        written = " ".join(words(phrase))
        if len(initials) >= 3 and written not in self.phrases.get(initials, ()) and not (
                initials[:INITIALS_RUN] in self.initials and initials[-INITIALS_RUN:] in self.initials):
            return frozenset()
        return frozenset({written})

    def _abbreviated(self, word: str) -> list[str]:
        """The corpus words a short name may stand for, as their first letters ("afg": "afghanistan")."""
        if not ABBREVIATION[0] <= len(word) <= ABBREVIATION[1]:
            return []
        found = []
        for candidate in self.words[bisect_left(self.words, word):]:
            if not candidate.startswith(word):
                break
            if len(candidate) >= len(word) + ABBREVIATED:
                found.append(candidate)
        return found

    def _near(self, word: str) -> list[str]:
        """Corpus words spelt nearly as `word` is: a typo, or another transliteration ("Gadaffi")."""
        if len(word) < 5:
            return []
        limit = 1 if len(word) < 8 else 2
        return [w for w in self.by_initial.get(word[0], ())
                if abs(len(w) - len(word)) <= limit and Levenshtein.distance(w, word, score_cutoff=limit) <= limit]


# How English makes a people's or a language's name from a place's: Russia, Russian; Iran, Iranian; Pakistan,
# Pakistani; Sudan, Sudanese.
_DEMONYMS = ("n", "an", "ian", "i", "ese")


def related_names(name: str) -> set[str]:
    """The names English derives from a name, and the one it is derived from: "russia" → {"russian"}, "iranian" →
    {"iran"}."""
    found = {name + ending for ending in _DEMONYMS}
    found |= {name[: -len(ending)] for ending in _DEMONYMS if name.endswith(ending) and len(name) - len(ending) >= 4}
    if name.endswith("a"):
        found |= {name[:-1] + ending for ending in ("an", "ese")}
    return found


def _figure_keys(term: Term) -> list[str]:
    """A figure by its value; a two-digit number also as the years it may stand for ('87, "in 87": 1987)."""
    value = term.value or 0.0
    keys = [figure_key(value)]
    if value.is_integer() and 0 <= value < 100 and len(term.text.strip("'’")) == 2:
        keys += [figure_key(1900 + value), figure_key(2000 + value)]
    return keys
