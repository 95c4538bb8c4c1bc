"""What the corpus mentions: every word, acronym, figure and time in it, to find a question's terms in it.

A term is found when the corpus has its word or its stem, in British or American spelling ("destabilise" finds
"destabilize"); for a name, a spelling one letter off (two for words of eight letters or more, with the same first
letter) or another transliteration ("Ahmadinejhad" finds "Ahmadinejad"); its acronym written out as the corpus
writes it ("DIA" finds "Defence Intelligence Agency"; for three letters or more, since two-letter initials fit too
many phrases); for a figure, the same value, and for a two-digit number, the year it may stand for ('98: 1998).
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz.distance import Levenshtein

from index.question import Kind, Term, date_keys, is_rare, rate_units
from index.terms import (
    MONTHS,
    VAGUE_COUNTS,
    figures,
    initialisms,
    keys,
    normalise,
    skeleton,
    spellings,
    stem,
    times,
    words,
)

_REPORTING = frozenset(stem(w) for w in """
    said say says told tell tells stated states added adds confirmed confirms claimed claims revealed reveals
    reported reports noted notes warned warns accused accuses admitted admits denied denies described
    describes explained explains asked asks announced announces tweeted wrote writes quoted quotes insisted
    argued suggested indicated expressed affirmed stipulated acknowledged alleged according speech statement
    """.split())
_QUOTES = re.compile(r"[\"“”]")


def figure_key(value: float) -> str:
    return f"#{value:g}"


@dataclass(frozen=True)
class Passage:
    """One passage as evidence: what it says itself, and with the passage it leans on and its source's title."""

    text: str
    context: str
    source: str

    @cached_property
    def own(self) -> set[str]:
        return _keys_with_figures(f"{self.text}\n{self.source}")

    @cached_property
    def window(self) -> set[str]:
        return self.own | _keys_with_figures(self.context)

    @cached_property
    def phrases(self) -> str:
        return " ".join(words(f"{self.context}\n{self.text}\n{self.source}"))

    def mentions(self, forms: frozenset[str], own: bool = False) -> bool:
        found = self.own if own else self.window
        return any(f in found if " " not in f else f in self.phrases for f in forms)

    @cached_property
    def counts(self) -> bool:
        """Gives a figure that is a count or an amount: not a year, not the day of a date."""
        text = _DAY_OF_MONTH.sub(" ", self.text)
        return any(not f.year for f in figures(text)) or bool(set(words(text)) & VAGUE_COUNTS)

    @cached_property
    def reports(self) -> bool:
        """Reports what someone said: a reporting verb or a quotation."""
        return bool(_QUOTES.search(self.text)) or any(stem(w) in _REPORTING for w in words(self.text))

    @cached_property
    def units(self) -> frozenset[str]:
        return rate_units(self.text)

    @cached_property
    def dates(self) -> set[str]:
        return date_keys(self.text, capitalised_may=True)

    @cached_property
    def words(self) -> set[str]:
        """Its lower-cased words, for telling near-duplicates apart."""
        return set(re.findall(r"\w+", self.text.lower()))

    @cached_property
    def places(self) -> set[str]:
        """Places the passage locates something in or near, as normalised words."""
        return {normalise(m.group(1)) for m in _LOCATED.finditer(self.text)} - _NOT_PLACES

    @cached_property
    def names(self) -> set[str]:
        """People's names, as normalised phrases: two capitalised words or more (function words apart) that end
        in a word that is not common English, as most surnames do and "Force", "Department" or "Times" do not,
        or that follow a title, for the surnames that are common words ("President Joe Biden", "Mullah Omar")."""
        found = set()
        for match in re.finditer(r"(?:[A-Z][\w’'-]+\.?\s+(?:(?:al|bin|ibn|de|el)[- ])?)+[A-Z][\w’'-]+", self.text):
            run = [w for w in map(normalise, match.group().split()) if w not in _FUNCTION]
            if len(run) < 2:
                continue
            before = words(self.text[max(0, match.start() - 30) : match.start()])[-1:]
            if is_rare(run[-1]) or {run[0], *before} & _TITLES:
                found.add(" ".join(run))
        return found


_TITLES = frozenset("""
    president vice prime minister secretary general gen colonel col lieutenant captain commander chief mr mrs ms dr
    sheikh mullah ayatollah senator ambassador envoy governor spokesman spokeswoman spokesperson adviser advisor
    director king queen prince judge
    """.split())
_LOCATED = re.compile(r"\b(?:in|near|along|inside|across|outside|at|into|toward|towards|within|between|"
                      r"located|based|sits|lies|borders?)\s+(?:the\s+)?(?:[a-z]+\s+)?([A-Z][\w’'-]+)")
_NOT_PLACES = frozenset(MONTHS) | frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_DAY_OF_MONTH = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b")
_FUNCTION = frozenset("a an the in on at of for and or but to from by with as this that these those it its "
                      "he she they we his her their our during after before since while when where".split())


def _keys_with_figures(text: str) -> set[str]:
    return keys(text) | {figure_key(f.value) for f in figures(text)} | times(text)


@dataclass
class Lexicon:
    """Every key of the corpus, its acronyms' phrases, and its words by first letter for near spellings."""

    keys: set[str] = field(default_factory=set)
    phrases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_initial: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sounds: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def build(cls, passages: Iterable[str], labels: Iterable[str] = ()) -> "Lexicon":
        """From the passages, and the labels they are shown with (titles, outlets, authors)."""
        lexicon = cls()
        text = "\x00".join([*passages, *labels])  # one pass over the whole corpus; \x00 ends every run of words
        lexicon.keys = _keys_with_figures(text)
        for initials, phrase in initialisms(text):
            if len(initials) >= 3:
                lexicon.phrases[initials].add(phrase)
        for word in lexicon.keys:
            if len(word) >= 4 and word.isalpha():
                lexicon.by_initial[word[0]].append(word)
                lexicon.sounds[skeleton(word)].add(word)
        return lexicon

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
        """Corpus words spelt nearly as `word` is, or transliterated another way (index/terms.py `skeleton`)."""
        if len(word) < 5:
            return []
        limit = 1 if len(word) < 8 else 2
        near = [w for w in self.by_initial.get(word[0], ())
                if abs(len(w) - len(word)) <= limit and Levenshtein.distance(w, word, score_cutoff=limit) <= limit]
        return near + sorted(self.sounds.get(skeleton(word), ()))


def _figure_keys(term: Term) -> list[str]:
    """A figure by its value; a two-digit number also as the years it may stand for ('98, "in 98": 1998)."""
    value = term.value or 0.0
    keys = [figure_key(value)]
    if value.is_integer() and 0 <= value < 100 and len(term.text.strip("'’")) == 2:
        keys += [figure_key(1900 + value), figure_key(2000 + value)]
    return keys
