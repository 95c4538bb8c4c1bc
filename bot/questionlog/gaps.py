"""The gaps in the corpus: the questions that went unanswered, or whose answer members voted not helpful (more
"not helpful" votes than "helpful"), grouped by meaning.

Wordings that differ only in case, spacing or end punctuation are one wording; wordings are then grouped by their
embedding with the index's model, most asked first: a wording joins the group whose first wording is most similar
to it, if that similarity reaches SAME_MEANING, and starts a group of its own otherwise. Private questions, and
those asked outside the home servers, are stored without their text, so they are counted, not grouped. A wording
logged without an embedding from the model is embedded once, and the embedding kept (`remember`), so gaps never
embeds it again.
"""

import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.questionlog.database import Database
from bot.questionlog.scope import EVERYTHING, Scope, iso, since
from bot.questionlog.vectors import vectors_from
from index.model.embedding import Embedder

# With all-MiniLM-L6-v2, rewordings of one question score 0.81–0.96 against each other, and different questions
# on one subject ("Does China support the Taliban?", "Does Russia support the Taliban?") up to 0.72.
SAME_MEANING = 0.77
BATCH = 1024
MAX_GROUP_LEADERS = 2000  # past this many groups, a wording like none of them stays on its own
EXAMPLES = 2
MISSING_TERMS = 5


@dataclass(frozen=True)
class Gap:
    """Questions of one meaning the corpus does not answer well: how many, two wordings, the terms it lacks."""

    count: int
    not_answered: int
    not_helpful: int
    examples: tuple[str, ...]
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "not_answered": self.not_answered, "not_helpful": self.not_helpful,
                "examples": list(self.examples), "missing": list(self.missing)}


@dataclass(frozen=True)
class Gaps:
    days: int
    since: float
    groups: list[Gap]
    private: int  # unanswered private questions: counted, but without text to group
    elsewhere: int  # unanswered questions asked outside the home servers: counted, without text too

    @property
    def questions(self) -> int:
        return sum(gap.count for gap in self.groups)

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "since": iso(self.since), "questions": self.questions,
                "private": self.private, "elsewhere": self.elsewhere,
                "groups": [gap.to_json() for gap in self.groups]}


_WORDINGS = """
WITH verdicts AS (
    SELECT question_id FROM votes GROUP BY question_id
    HAVING count(*) FILTER (WHERE helpful = 0) > count(*) FILTER (WHERE helpful = 1)),
gap AS (
    SELECT wording_id, question, asked_at, 1 AS unanswered FROM questions
    WHERE outcome = 'not_answered' AND wording_id IS NOT NULL AND asked_at >= ? AND {scope}
    UNION ALL
    SELECT q.wording_id, q.question, q.asked_at, 0
    FROM verdicts AS v JOIN questions AS q ON q.id = v.question_id
    WHERE q.asked_at >= ? AND q.wording_id IS NOT NULL AND q.outcome != 'not_answered' AND {q_scope}),
counted AS (
    SELECT wording_id, max(asked_at) AS latest, count(*) AS asked, count(*) FILTER (WHERE unanswered = 1) AS unanswered,
           count(*) FILTER (WHERE unanswered = 0) AS unhelpful
    FROM gap GROUP BY wording_id),
latest AS (
    SELECT wording_id, question, row_number() OVER (PARTITION BY wording_id ORDER BY asked_at DESC) AS n FROM gap)
SELECT l.question, c.asked, c.unanswered, c.unhelpful, w.model, w.vector, w.id
FROM counted AS c JOIN wordings AS w ON w.id = c.wording_id JOIN latest AS l ON l.wording_id = c.wording_id AND l.n = 1
ORDER BY c.asked DESC, c.latest DESC
"""  # each wording's text is its latest asking's

_MISSING = """
SELECT wording_id, missing FROM questions
WHERE outcome = 'not_answered' AND wording_id IS NOT NULL AND asked_at >= ? AND missing != '[]' AND {scope}
"""


@dataclass
class Wordings:
    """The gap questions by wording, most asked first (then latest), as columns."""

    ids: list[int]  # of each wording in the wordings table
    texts: list[str]  # the latest asking's text
    counts: np.ndarray
    not_answered: np.ndarray
    not_helpful: np.ndarray
    missing: list[list[str]]  # the JSON lists of missing terms of its unanswered askings
    vectors: np.ndarray
    lacking: list[int]  # rows with no embedding from the model


def wordings(database: Database, start: float, model: str, scope: Scope = EVERYTHING) -> Wordings:
    """The gap questions since `start` in `scope`, with each wording's embedding from `model` where one is stored."""
    rows = database.fetchall(_WORDINGS.format(scope=scope.sql(), q_scope=scope.sql("q")),
                             (start, *scope.hidden, start, *scope.hidden))
    stored = [i for i, row in enumerate(rows) if row[5] is not None and row[4] == model]
    dimension = len(rows[stored[0]][5]) if stored else 0  # one byte a number
    vectors = np.zeros((len(rows), dimension), dtype=np.float32)
    if stored:
        vectors[stored] = vectors_from(b"".join(bytes(rows[i][5]) for i in stored), len(stored))
    missing: dict[int, list[str]] = {}
    for wording_id, terms in database.fetchall(_MISSING.format(scope=scope.sql()), (start, *scope.hidden)):
        missing.setdefault(wording_id, []).append(terms)
    column = lambda n: np.array([row[n] for row in rows], dtype=np.int64)  # noqa: E731
    return Wordings(ids=[row[6] for row in rows], texts=[row[0] for row in rows], counts=column(1),
                    not_answered=column(2), not_helpful=column(3), missing=[missing.get(row[6], []) for row in rows],
                    vectors=vectors, lacking=sorted(set(range(len(rows))) - set(stored)))


def group(vectors: np.ndarray) -> np.ndarray:
    """A group number per row: rows in order, each joining the most similar group leader at SAME_MEANING or
    more, or leading a new group (see the module docstring). Unit vectors; dot products are cosines."""
    labels = np.full(len(vectors), -1, dtype=np.int64)
    leaders = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    leader_labels = np.zeros(0, dtype=np.int64)
    groups = 0
    for start in range(0, len(vectors), BATCH):
        block = vectors[start : start + BATCH]
        found = labels[start : start + len(block)]  # a view: writing it writes `labels`
        if len(leaders):
            similarity = block @ leaders.T
            best = similarity.argmax(axis=1)
            matched = np.take_along_axis(similarity, best[:, None], axis=1)[:, 0] >= SAME_MEANING
            found[matched] = leader_labels[best[matched]]
        new: list[int] = []  # rows of this block that lead a group
        for row in np.flatnonzero(found < 0):
            if new:
                similarity = block[new] @ block[row]
                if similarity.max() >= SAME_MEANING:
                    found[row] = found[new[int(similarity.argmax())]]
                    continue
            found[row] = groups
            groups += 1
            if len(leaders) + len(new) < MAX_GROUP_LEADERS:
                new.append(int(row))
        if new:
            leaders = np.vstack([leaders, block[new]])
            leader_labels = np.concatenate([leader_labels, found[new]])
    return labels


Remember = Callable[[list[tuple[int, np.ndarray]]], None]


def gaps(database: Database, days: int, embedder: Callable[[], Embedder], model: str,
         limit: int | None = None, now: float | None = None, remember: Remember | None = None,
         scope: Scope = EVERYTHING) -> Gaps:
    """The gaps of the last `days` days in `scope`, largest group first (at most `limit` groups).

    `model` names the index's model; `embedder` gives it, and is only called for wordings logged without an
    embedding from that model, whose embeddings (by wording id) then go to `remember` to be kept.
    """
    start = since(days, now)
    found = wordings(database, start, model, scope)
    if found.lacking:
        encoded = embedder().encode([found.texts[i] for i in found.lacking])
        if not found.vectors.shape[1]:
            found.vectors = np.zeros((len(found.texts), encoded.shape[1]), dtype=np.float32)
        found.vectors[found.lacking] = encoded
        if remember is not None:
            remember([(found.ids[row], vector) for row, vector in zip(found.lacking, encoded, strict=True)])
    labels = group(found.vectors)
    # Each group's rows in order (most asked first), and the groups largest first; a tie goes to the group
    # whose first wording is more asked.
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.diff(labels[order], prepend=-1))
    members = np.split(order, starts[1:]) if len(order) else []
    members.sort(key=lambda rows: (-int(found.counts[rows].sum()), int(rows[0])))
    terms = functools.lru_cache(maxsize=None)(json.loads)  # most missing-term lists are alike: parse each once
    groups = [_gap(found, rows, terms) for rows in members[:limit]]
    counted = database.fetchone(
        "SELECT count(*) FILTER (WHERE private = 1), count(*) FILTER (WHERE private = 0) FROM questions "
        f"WHERE asked_at >= ? AND outcome = 'not_answered' AND wording_id IS NULL AND {scope.sql()}",
        (start, *scope.hidden))
    assert counted is not None
    return Gaps(days, start, groups, int(counted[0]), int(counted[1]))


def _gap(found: Wordings, rows: np.ndarray, terms: Callable[[str], list[str]]) -> Gap:
    missing: Counter[str] = Counter()
    for row in rows:
        for listed in found.missing[row]:
            missing.update(terms(listed))
    return Gap(count=int(found.counts[rows].sum()), not_answered=int(found.not_answered[rows].sum()),
               not_helpful=int(found.not_helpful[rows].sum()),
               examples=tuple(found.texts[row] for row in rows[:EXAMPLES]),
               missing=tuple(term for term, _ in missing.most_common(MISSING_TERMS)))

