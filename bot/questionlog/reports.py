"""What the question log tells moderators: the gaps in the corpus, and how Dossier is used.

Gaps are the questions that went unanswered, or whose answer members voted not helpful (more "not helpful" votes
than "helpful"), grouped by meaning. Wordings that differ only in case, spacing or end punctuation are one
wording; wordings are then grouped by their embedding with the index's model, most asked first: a wording joins
the group whose first wording is most similar to it, if that similarity reaches SAME_MEANING, and starts a group
of its own otherwise. Private questions, and those asked outside the home servers, are stored without their text,
so they are counted, not grouped. A wording logged without an embedding from the model is embedded once, and
the embedding kept (`remember`), so gaps never embeds it again.

On Discord a report covers what its `Scope` lets the server it is asked in see: its own questions and those asked
outside every home server, never another home server's (whose members were told their own moderators see them).
The operator's command line sees every question.
"""

import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bot.questionlog.database import Database
from bot.questionlog.vectors import vectors_from
from index.model.embedding import Embedder

# With all-MiniLM-L6-v2, rewordings of one question score 0.81–0.96 against each other, and different questions
# on one subject ("Does China support the Taliban?", "Does Russia support the Taliban?") up to 0.72.
SAME_MEANING = 0.77
DEFAULT_DAYS = 30
TOP_SOURCES = 5
MAX_DAYS = 3660
BATCH = 1024
MAX_GROUP_LEADERS = 2000  # past this many groups, a wording like none of them stays on its own
EXAMPLES = 2
MISSING_TERMS = 5


@dataclass(frozen=True)
class Scope:
    """The questions a report covers: all, or all but those asked in `hidden` servers."""

    hidden: tuple[int, ...] = ()

    @classmethod
    def home(cls, guild_id: int | None, homes: Collection[int]) -> "Scope":
        """What the moderators of the home server `guild_id` see: every question but the other home servers'."""
        return cls(tuple(sorted(set(homes) - {guild_id})))

    def sql(self, table: str = "") -> str:
        """A condition on the questions (of `table`, an alias) that keeps those in scope; its parameters are
        `hidden`."""
        column = f"{table}.guild_id" if table else "guild_id"
        if not self.hidden:
            return "1 = 1"
        return f"({column} IS NULL OR {column} NOT IN ({', '.join('?' * len(self.hidden))}))"


EVERYTHING = Scope()


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
        return {"days": self.days, "since": _iso(self.since), "questions": self.questions,
                "private": self.private, "elsewhere": self.elsewhere,
                "groups": [gap.to_json() for gap in self.groups]}


def since(days: int, now: float | None = None) -> float:
    """The start of the last `days` days: midnight (UTC) of the first of them, today being the last."""
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()


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
        return {"days": self.days, "since": _iso(self.since), "questions": self.questions,
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


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _share(value: float | None, of: int, what: str) -> str:
    return f"{value:.0%} of {of:,} {what}" if value is not None else f"no {what} yet"


def gaps_text(report: Gaps) -> str:
    """Gaps for a terminal."""
    lines = [f"Gaps, last {plural(report.days, 'day')}: {plural(report.questions, 'question')} in "
             f"{plural(len(report.groups), 'group')}, largest first."]
    lines += unshown_notes(report)
    for number, gap in enumerate(report.groups, 1):
        lines += ["", f"{number}. {gap_summary(gap)}"] + [f"   “{example}”" for example in gap.examples]
        if gap.missing:
            lines.append(f"   missing from the corpus: {', '.join(gap.missing)}")
    return "\n".join(lines)


def unshown_notes(report: Gaps) -> list[str]:
    """The unanswered questions gaps counts but cannot show, since their text is not kept."""
    notes = []
    if report.private:
        notes.append(f"{plural(report.private, 'private question')} went unanswered too; their text is not kept.")
    if report.elsewhere:
        notes.append(f"{plural(report.elsewhere, 'question')} asked outside the home servers went unanswered too; "
                     "their text is not kept.")
    return notes


def gap_summary(gap: Gap) -> str:
    """How many questions a group holds, and how each went."""
    parts = [f"{gap.not_answered:,} not answered"] if gap.not_answered else []
    if gap.not_helpful:
        parts.append(f"{gap.not_helpful:,} voted not helpful")
    return f"{plural(gap.count, 'question')} ({', '.join(parts)})"


def stats_lines(report: Stats, titles: dict[str, str], escape: Callable[[str], str] = str) -> dict[str, str]:
    """Each figure of the stats as a short text, by its name; shared by the terminal and Discord, which escapes
    the sources' titles."""
    refused = report.outcomes.get("refused", 0)
    latency = report.latency_ms
    votes = report.helpful + report.not_helpful
    return {
        "Questions": f"{report.questions:,}" + (f" ({refused:,} refused)" if refused else ""),
        "Answered": _share(report.answered_share, report.searched, "questions searched"),
        "Voted helpful": _share(report.helpful_share, votes, "votes"),
        "Answer time": (f"p50 {latency['p50']:,.0f} ms, p95 {latency['p95']:,.0f} ms, max {latency['max']:,.0f} ms"
                        if latency else "no answers yet"),
        "Most quoted sources": "\n".join(f"{n:,} × {escape(titles.get(source, source))}"
                                         for source, n in report.sources[:TOP_SOURCES]) or "none yet",
        "Questions per day": "\n".join(f"{day}  {n:,}" for day, n in report.per_day),
    }


def stats_text(report: Stats, titles: dict[str, str]) -> str:
    """Stats for a terminal."""
    lines = [f"Stats, last {plural(report.days, 'day')} (since {_iso(report.since)}):"]
    for name, value in stats_lines(report, titles).items():
        if "\n" in value:
            lines += [f"{name}:"] + [f"  {line}" for line in value.splitlines()]
        else:
            lines.append(f"{name}: {value}")
    return "\n".join(lines)
