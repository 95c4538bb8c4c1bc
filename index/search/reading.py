"""A question read against the corpus: which of its terms the corpus mentions, and in which passages.

Two things follow from it: the grounds a refusal can show (the names, acronyms, years, sums and page parts the
question asks about that the corpus never mentions in any form, and whether it names anyone or anything the corpus
does), and, through index/search/features.py, how many of the question's terms each passage mentions, with the one
it leans on and its source's title, outlet and author.
"""

import re
from dataclasses import dataclass
from functools import cached_property

from index.search.lexicon import Lexicon, Passage
from index.search.question import Kind, Query, Term


@dataclass(frozen=True)
class Reading:
    """A question read against the corpus: where each of its terms is mentioned, and which never are."""

    query: Query
    forms: dict[str, frozenset[str]]

    @classmethod
    def of(cls, query: Query, lexicon: Lexicon) -> "Reading":
        return cls(query, {t.key: lexicon.forms(t) for t in (*query.terms, *query.phrases)})

    @property
    def missing(self) -> tuple[Term, ...]:
        """The terms naming something that the corpus never mentions in any form."""
        return tuple(t for t in self.query.naming if not self.forms[t.key])

    @property
    def names_known(self) -> bool:
        """Whether the question names someone or something (a name or an acronym) that the corpus mentions."""
        return any(self.forms[t.key] for t in self.query.naming if t.kind in (Kind.NAME, Kind.ACRONYM, Kind.PHRASE))

    def missing_phrases(self) -> tuple[str, ...]:
        """The missing terms as the question wrote them, names joined when adjacent ("Halvard Brennick")."""
        phrases: list[str] = []
        last: Term | None = None
        text = " ".join(self.query.text.split()).lower()
        for term in sorted(self.missing, key=lambda t: text.find(t.text.lower())):
            shown = re.sub(r"['’]s?$", "", term.text)
            shown = shown.title() if term.kind is Kind.NAME and shown.islower() else shown
            if last and last.kind is Kind.NAME and term.kind is Kind.NAME and \
                    f"{last.text} {term.text}".lower() in text:
                phrases[-1] += f" {shown}"
            else:
                phrases.append(shown)
            last = term
        return tuple(phrases)

    @cached_property
    def _lookups(self) -> tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]:
        """Each mentioned term's key, its forms that are words, and those that are phrases."""
        return tuple((t.key, frozenset(f for f in self.forms[t.key] if " " not in f),
                      tuple(f for f in self.forms[t.key] if " " in f)) for t in self.query.terms if self.forms[t.key])

    def mentioned(self, passage: Passage) -> set[str]:
        """The keys of the question's terms that the passage mentions, with the one it leans on and its source's
        labels."""
        window = passage.window
        return {key for key, words, phrases in self._lookups
                if not words.isdisjoint(window) or any(p in passage.phrases for p in phrases)}

    def found(self, passage: Passage, terms: tuple[Term, ...]) -> int:
        """How many of the terms the passage mentions."""
        mentioned = self.mentioned(passage)
        return sum(1 for t in terms if t.key in mentioned)

    @cached_property
    def present_specific(self) -> tuple[Term, ...]:
        """The specific terms the corpus mentions somewhere."""
        return tuple(t for t in self.query.specific if self.forms[t.key])
