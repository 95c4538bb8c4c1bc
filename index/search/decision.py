"""Whether and how a question is answered, from its candidates and the fitted scorer (index/search/scorer.py).

A question is refused only on a ground the reader can check:
- off topic (index/search/evidence.py): no passage clears the abstention bar, the mean plus three standard
  deviations of the best dense scores that background questions (index/model/background.py) get against this corpus,
  and the question names nobody and nothing the corpus names. The build computes the bar and keeps it in the
  generation's pointer, which spares every searcher the background questions' encode;
- not answered: the question names someone or something (a name, an acronym, a year, a sum, a page part) that the
  corpus never mentions in any form, and the question model does not find the rest of it answered anyway (a passage
  can answer "what happened in Karsk in 2019" without naming the town as the asker does).
Everything else is answered, and `confidence` says whether the question model is sure of it.
"""

from dataclasses import dataclass

from index.search.answer import Confidence, Outcome
from index.search.evidence import Ranked, best_by_source, off_topic, question_row, ranked, source_rows
from index.search.features import Candidates
from index.search.live_index import LiveIndex
from index.search.question import plain_words
from index.search.reading import Reading
from index.search.scorer import Scorer

MAX_PASSAGES = 15  # three pages of five: what "More passages" pages through


@dataclass(frozen=True)
class Decision:
    """A question's candidate passages ranked by the passage model, whether it is answered, and by which sources."""

    ranked: list[Ranked]
    outcome: Outcome
    confidence: Confidence
    best: dict[str, Ranked]  # each source among the candidates with its best passage, best sources first
    answering: dict[str, Ranked]  # those the source model finds answering
    mentioning: dict[str, set[str]]  # each source among the candidates: the question's terms its candidates mention


def decide(index: LiveIndex, reading: Reading, found: Candidates, scorer: Scorer) -> Decision:
    """The candidates ranked by the passage model, lists kept together, and how likely it is that the corpus
    answers the question."""
    logits = scorer.rank(found.features)
    chance = scorer.answerable(question_row(index, reading, found, logits))
    candidates = ranked(found, logits)
    best = best_by_source(index, candidates)
    answers = scorer.answering(source_rows(best))
    answering = {source: c for (source, c), yes in zip(best.items(), answers, strict=True) if yes}
    if off_topic(index, reading, found):
        outcome = Outcome.OFF_TOPIC
    elif reading.missing and chance < scorer.threshold and not _quotes_a_passage(index, reading, found):
        outcome = Outcome.NOT_ANSWERED
    else:
        outcome = Outcome.ANSWERED
    confidence = Confidence.HIGH if chance >= scorer.sure else Confidence.LOW
    return Decision(_with_lists(index, candidates[:MAX_PASSAGES])[:MAX_PASSAGES], outcome, confidence, best,
                    answering, _mentioning(index, found, candidates))


def _mentioning(index: LiveIndex, found: Candidates, candidates: list[Ranked]) -> dict[str, set[str]]:
    mentions = dict(zip(found.positions.tolist(), found.mentions, strict=True))
    mentioning: dict[str, set[str]] = {}
    for candidate in candidates:
        mentioning.setdefault(index.chunks[candidate.position].source_id, set()).update(mentions[candidate.position])
    return mentioning


def _quotes_a_passage(index: LiveIndex, reading: Reading, found: Candidates) -> bool:
    """Whether the question quotes one of its candidate passages: then what it names beside the quotation is a
    claim about the corpus's own words ("X said 'this'": did X?), which the passage answers."""
    return any(quote in plain_words(index.chunks[i].text) for quote in reading.query.quotes
               for i in found.positions.tolist())


def _with_lists(index: LiveIndex, candidates: list[Ranked]) -> list[Ranked]:
    """The ranking with each list's items right after their lead-in, at its score: a lead-in ("…, including:")
    says what the list is about, and the items say what it holds, so alone it answers nothing."""
    placed: set[int] = set()
    grouped: list[Ranked] = []
    for candidate in candidates:
        if candidate.position in placed:
            continue
        items = [i for i in index.lists.get(candidate.position, ()) if i not in placed]
        grouped += [candidate, *(Ranked(i, candidate.logit) for i in items)]
        placed.update([candidate.position, *items])
    return grouped
