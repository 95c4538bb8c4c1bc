"""What the corpus mentions: every word, acronym, figure and time in it, to find a question's terms in it.

A term is found when the corpus has:
- its word or its stem, in British or American spelling ("destabilise" finds "destabilize");
- for a name, a spelling one letter off (two for words of eight letters or more, with the same first letter), as
  typos and other transliterations are ("Ahmadinejhad" finds "Ahmadinejad");
- for an acronym, its words as the corpus writes them ("DIA" finds "Defence Intelligence Agency"), for three
  letters or more, since two-letter initials fit too many phrases;
- for a figure, the same value; for a two-digit number, the year it may stand for ('98: 1998).
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz.distance import Levenshtein

from index.search.question import Kind, Term
from index.search.terms import (
    figures,
    initialisms,
    keys,
    spellings,
    stem,
    times,
    words,
)


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
    by_initial: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, passages: Iterable[str], labels: Iterable[str] = ()) -> "Lexicon":
        """From the passages, and the labels they are shown with (titles, outlets, authors)."""
        lexicon = cls()
        text = "\x00".join([*passages, *labels])  # one pass over the whole corpus; \x00 ends every run of words
        lexicon.keys = _keys_with_figures(text)
        for initials, phrase in initialisms(text):
            if len(initials) >= 3:
                lexicon.phrases[initials].add(phrase)
        lexicon._index_initials()
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
        lexicon._index_initials()
        return lexicon

    def _index_initials(self) -> None:
        for word in self.keys:
            if len(word) >= 4 and word.isalpha():
                self.by_initial[word[0]].append(word)

    def forms(self, term: Term) -> frozenset[str]:
        """The keys and phrases under which the corpus mentions the term; empty when it never does."""
        if term.kind is Kind.FIGURE:
            return frozenset(k for k in _figure_keys(term) if k in self.keys)
        if term.kind is Kind.TIME:
            return frozenset({term.key}) if term.key in self.keys else frozenset()
        found = {k for spelling in spellings(term.key) for k in (spelling, stem(spelling)) if k in self.keys}
        if term.kind is Kind.ACRONYM:
            found |= self.phrases.get(term.key, set())
        elif term.kind is Kind.NAME and not found:  # a misspelt name; a common word is not a misspelling
            near = self._near(term.key)
            found = {*near, *(stem(w) for w in near)}
        return frozenset(found)

    def _near(self, word: str) -> list[str]:
        """Corpus words spelt nearly as `word` is: a typo, or another transliteration ("Ahmadinejhad")."""
        if len(word) < 5:
            return []
        limit = 1 if len(word) < 8 else 2
        return [w for w in self.by_initial.get(word[0], ())
                if abs(len(w) - len(word)) <= limit and Levenshtein.distance(w, word, score_cutoff=limit) <= limit]


def _figure_keys(term: Term) -> list[str]:
    """A figure by its value; a two-digit number also as the years it may stand for ('98, "in 98": 1998)."""
    value = term.value or 0.0
    keys = [figure_key(value)]
    if value.is_integer() and 0 <= value < 100 and len(term.text.strip("'’")) == 2:
        keys += [figure_key(1900 + value), figure_key(2000 + value)]
    return keys
