"""What the scorer weighs for one question, computed the one way both serving (index/search/decision.py) and the
fit (fit/) use: the candidate passages with their features, the passage model's ranking of them, each source's best
passage and its features, the question's features, and whether the question is off topic.

Off topic: no passage clears the abstention bar (index/search/live_index.py) and the question names nobody and
nothing the corpus names.
"""

from dataclasses import dataclass

import numpy as np

from index.model.embedding import Embedder
from index.search.features import Candidates, candidates, question_features, source_features
from index.search.live_index import LiveIndex
from index.search.reading import Reading


@dataclass(frozen=True)
class Ranked:
    """A candidate passage and the passage model's log-odds that it answers the question."""

    position: int
    logit: float


def gather(index: LiveIndex, reading: Reading, embedder: Embedder) -> Candidates:
    """The question's candidate passages with their features (index/search/features.py)."""
    query = embedder.encode([reading.query.topic])[0]
    return candidates(index, reading, *index.plain_and_dense(query), query)


def off_topic(index: LiveIndex, reading: Reading, found: Candidates) -> bool:
    return found.best_dense < index.bar and not reading.names_known


def question_row(index: LiveIndex, reading: Reading, found: Candidates, logits: np.ndarray) -> np.ndarray:
    """The question's features, given the passage model's log-odds of its candidates."""
    return question_features(found, logits, reading, index.bar, index.spread)


def ranked(found: Candidates, logits: np.ndarray) -> list[Ranked]:
    """The candidates, best first by the passage model (ties in the order they were found)."""
    order = np.argsort(-logits, kind="stable").tolist()
    return [Ranked(position, logit) for position, logit in
            zip(found.positions[order].tolist(), logits[order].tolist(), strict=True)]


def best_by_source(index: LiveIndex, candidates: list[Ranked]) -> dict[str, Ranked]:
    """Each source among the ranked candidates with its best passage, best sources first."""
    best: dict[str, Ranked] = {}
    for candidate in candidates:
        best.setdefault(index.chunks[candidate.position].source_id, candidate)
    return best


def source_rows(best: dict[str, Ranked]) -> np.ndarray:
    """The features of each source (index/search/features.py SOURCE), in the order of `best`."""
    return source_features(np.array([c.logit for c in best.values()]))
