"""A question read against the corpus: which of its terms the corpus mentions, and in which passages.

What the fitted scorer (index/scorer.py) learns from it: the specific terms (names, acronyms, figures, page parts)
the corpus never mentions; how many of the question's terms a passage mentions, with the one it leans on and its
source's title, outlet and author; and whether the passage gives what the question wants:
- a figure ("how many", "how much"): a count or an amount, not a year;
- a date ("when"): a date the question does not already give;
- a name ("who", "which officials"): a person's name the question does not give, two capitalised words or more
  ending in one that is not common English, or following a title ("Orlan Tessmark", "President Alan Green",
  not "Defence Council");
- what someone said ("what did X say"): X named in the passage itself (or as its source) and a reporting verb
  or a quotation in it;
- a rate ("per month"): the same unit ("a month", "monthly").
"""

from dataclasses import dataclass
from functools import cached_property

from index.lexicon import Lexicon, Passage
from index.question import Kind, Query, Term


@dataclass(frozen=True)
class Reading:
    """A question read against the corpus: where each of its terms is mentioned, and which never are."""

    query: Query
    forms: dict[str, frozenset[str]]

    @classmethod
    def of(cls, query: Query, lexicon: Lexicon) -> "Reading":
        return cls(query, {t.key: lexicon.forms(t) for t in query.terms})

    @property
    def missing(self) -> tuple[Term, ...]:
        """Specific terms the corpus never mentions."""
        return tuple(t for t in self.query.specific if not self.forms[t.key])

    def missing_phrases(self) -> tuple[str, ...]:
        """The missing terms as the question wrote them, names joined when adjacent ("Esmail Qaani")."""
        phrases: list[str] = []
        last: Term | None = None
        text = " ".join(self.query.text.split()).lower()
        for term in sorted(self.missing, key=lambda t: text.find(t.text.lower())):
            shown = term.text.title() if term.kind is Kind.NAME and term.text.islower() else term.text
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
        return tuple((key, frozenset(f for f in forms if " " not in f), tuple(f for f in forms if " " in f))
                     for key, forms in self.forms.items() if forms)

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
