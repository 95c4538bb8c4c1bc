"""How Dossier is used: questions per day, how they went, votes, the most quoted sources and answer latency."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bot.questionlog.database import Database
from bot.questionlog.scope import EVERYTHING, Scope, iso, since


@dataclass(frozen=True)
class Stats:
    days: int
    since: float
    per_day: list[tuple[str, int]]
    outcomes: dict[str, int]
    helpful: int
    not_helpful: int
    sources: list[tuple[str, int]]  # source id, questions that quoted it; most quoted first
    latency_ms: dict[str, float] | None  # p50, p95 and max of the answers' latency

    @property
    def questions(self) -> int:
        return sum(self.outcomes.values())

    @property
    def searched(self) -> int:
        """Questions that were searched: all but the refused."""
        return self.questions - self.outcomes.get("refused", 0)

    @property
    def answered_share(self) -> float | None:
        return self.outcomes.get("answered", 0) / self.searched if self.searched else None

    @property
    def helpful_share(self) -> float | None:
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None

    def to_json(self, titles: dict[str, str]) -> dict[str, Any]:
        return {"days": self.days, "since": iso(self.since), "questions": self.questions,
                "per_day": [{"date": day, "questions": n} for day, n in self.per_day],
                "outcomes": self.outcomes, "answered_share": self.answered_share,
                "votes": {"helpful": self.helpful, "not_helpful": self.not_helpful,
                          "helpful_share": self.helpful_share},
                "sources": [{"id": source, "title": titles.get(source, source), "questions": n}
                            for source, n in self.sources],
                "latency_ms": self.latency_ms}


def stats(database: Database, days: int, now: float | None = None, scope: Scope = EVERYTHING) -> Stats:
    """Questions per day (UTC), outcomes, votes, the most quoted sources and answer latency, since `days` ago, of the
    questions in `scope`."""
    now = time.time() if now is None else now
    start = since(days, now)
    asked, q_asked = f"asked_at >= ? AND {scope.sql()}", f"q.asked_at >= ? AND {scope.sql('q')}"
    params = (start, *scope.hidden)
    counted: dict[str, int] = dict(database.fetchall(f"SELECT {database.day('asked_at')}, count(*) FROM questions "
                                     f"WHERE {asked} GROUP BY 1", params))
    first = datetime.fromtimestamp(start, UTC).date()
    per_day = [(day, counted.get(day, 0)) for day in ((first + timedelta(days=n)).isoformat() for n in range(days))]
    outcomes: dict[str, int] = dict(database.fetchall(f"SELECT outcome, count(*) FROM questions WHERE {asked} "
                                      "GROUP BY outcome", params))
    votes = database.fetchone(
        "SELECT count(*) FILTER (WHERE v.helpful = 1), count(*) FILTER (WHERE v.helpful = 0) FROM votes AS v "
        f"JOIN questions AS q ON q.id = v.question_id WHERE {q_asked}", params)
    assert votes is not None
    sources = database.fetchall(
        "SELECT source_id, count(DISTINCT question_id) AS n FROM quoted JOIN questions AS q ON q.id = question_id "
        f"WHERE {q_asked} GROUP BY source_id ORDER BY n DESC, source_id", params)
    latencies = np.array([row[0] for row in database.fetchall(
        f"SELECT latency_ms FROM questions WHERE {asked} AND latency_ms IS NOT NULL AND outcome != 'refused'",
        params)], dtype=np.float64)
    latency = None
    if len(latencies):
        p50, p95 = np.percentile(latencies, [50, 95])
        latency = {"p50": round(float(p50), 1), "p95": round(float(p95), 1),
                   "max": round(float(latencies.max()), 1)}
    return Stats(days, start, per_day, outcomes, int(votes[0]), int(votes[1]), [(s, n) for s, n in sources], latency)

