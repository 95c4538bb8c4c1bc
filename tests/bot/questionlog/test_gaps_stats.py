"""Gaps and stats from the question log: `/dossier gaps|stats` through the real CommandTree, `python -m bot
gaps|stats` as a subprocess, and the grouping by meaning with the real model; on SQLite and on PostgreSQL, with the
same assertions."""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.payload import truncate
from bot.questionlog import reports
from bot.questionlog.connect import open_database
from bot.questionlog.database import Database
from bot.questionlog.entry import Entry
from bot.questionlog.questionlog import QuestionLog
from bot.questionlog.retention import DAY_SECONDS
from bot.questionlog.schema import wording
from bot.quoting import markdown
from index.model.embedding import Embedder
from tests.bot.harness import (
    ADMIN,
    ASKER,
    BOT_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_ID,
    OTHER_MEMBER,
    SECOND_GUILD_ID,
    assert_safe,
    bot_mention,
    fake_index_gateway,
)
from tests.bot.questionlog.databases import LogBackend
from tests.bot.questionlog.test_question_log import MISSING, answerable, unanswerable
from tests.conftest import ROOT, SEEDS

NOW = time.time()
DRONES = ["Does Iran sell drones to the Taliban?", "does iran sell drones to the taliban",
          "Are Iranian drones going to the Taliban?", "Do the Taliban get drones from Tehran?"]
CHINA, RUSSIA = "What does China think of the Taliban?", "Does Russia support the Taliban?"
LEADER = "Who leads the Taliban?"


class Log:
    """A question log in a temp folder or a PostgreSQL database, filled by `add` as the bot fills it."""

    def __init__(self, backend: LogBackend) -> None:
        self.backend = backend
        self.questions = QuestionLog.open(backend.location, days=90, homes=[GUILD_ID])
        self.ids = iter(range(1, 10**6))

    def add(self, question: str, outcome: str = "not_answered", *, age_days: int = 0, **details: object) -> int:
        """Logs a question asked `age_days` ago, a second after the one added before it."""
        question_id = next(self.ids)
        values: dict[str, object] = {"id": question_id, "asked_at": NOW - age_days * DAY_SECONDS + question_id,
                                     "guild_id": GUILD_ID, "channel_id": 1, "user_id": MEMBER_ID, "via": "slash",
                                     "question": question, "private": False, "outcome": outcome}
        self.questions.record(Entry(**{**values, **details}))  # type: ignore[arg-type]
        return question_id

    def vote(self, question_id: int, helpful: bool, user_id: int) -> None:
        self.questions.vote(question_id, user_id, GUILD_ID, helpful).result(timeout=10)

    def read(self) -> Database:
        self.questions.flush()
        return open_database(self.backend.location, read_only=True)


@pytest.fixture
def question_log(log_backend: LogBackend) -> Iterator[Log]:
    filled = Log(log_backend)
    yield filled
    filled.questions.close()


def fill_gaps(log: Log, embedder: Embedder) -> None:
    """Drone questions in four wordings (one twice), China and Russia once each, an answer voted not helpful, and
    what gaps must leave out: a private question, off-topic, refused, helpful and old ones."""
    for question in [*DRONES, DRONES[0], CHINA, RUSSIA]:
        stored = question != DRONES[2]  # one was logged without an embedding: gaps embeds it
        log.add(question, missing=("drones",) if "drones" in question.lower() else (),
                vector=embedder.encode([question])[0] if stored else None, model=embedder.name if stored else None)
    unhelpful = log.add(LEADER, "answered", quoted=(("c1", "001.txt"),))
    for voter, helpful in ((1, False), (2, False), (3, True)):
        log.vote(unhelpful, helpful, voter)
    helpful = log.add("Who founded the Taliban?", "answered")
    log.vote(helpful, True, 1)
    log.add("What is Iran's secret plan?", private=True)
    log.add("Asked in another server?", guild_id=SECOND_GUILD_ID)
    log.add("What is the capital of Peru?", "off_topic")
    log.add("Who pays them?", "refused")
    log.add("Do Iranian drones reach Kandahar?", age_days=40)


@pytest.mark.slow
def test_gaps_group_similar_questions(question_log: Log, embedder: Embedder) -> None:
    """Rewordings of one question form one group, largest first, with two wordings and the terms the corpus lacks;
    different questions on one subject stay apart; an answer voted not helpful is a gap; the rest is left out."""
    fill_gaps(question_log, embedder)
    with closing(question_log.read()) as connection:
        found = reports.gaps(connection, 30, lambda: embedder, embedder.name)
    first = found.groups[0]
    assert (first.count, first.not_answered, first.not_helpful) == (5, 5, 0)
    assert first.examples == (DRONES[0], DRONES[3])  # the most asked wording, then the latest
    assert first.missing == ("drones",)
    rest = sorted((g.examples, g.count, g.not_answered, g.not_helpful) for g in found.groups[1:])
    assert rest == [((RUSSIA,), 1, 1, 0), ((CHINA,), 1, 1, 0), ((LEADER,), 1, 0, 1)]
    assert found.private == 1 and found.elsewhere == 1 and found.questions == 8


@pytest.mark.slow
def test_bot_gaps_cli_prints_the_same_groups(question_log: Log, embedder: Embedder, tmp_path: Path) -> None:
    """`python -m bot gaps --json` reads DATABASE_PATH and prints the groups; the text form lists them in order."""
    fill_gaps(question_log, embedder)
    question_log.questions.flush()
    env = {**os.environ, **question_log.backend.env, "SEEDS_DIR": str(SEEDS), "HF_HUB_OFFLINE": "1"}
    printed = run_cli(["gaps", "--json", "--days", "30"], env)
    assert [(g["count"], g["examples"][0]) for g in printed["groups"]][:1] == [(5, DRONES[0])]
    assert printed["private"] == 1 and printed["elsewhere"] == 1 and printed["days"] == 30
    assert len(printed["groups"]) == 4
    with closing(question_log.read()) as connection:  # the gaps logged without an embedding have one now
        kept = connection.fetchall("SELECT wording FROM wordings WHERE vector IS NOT NULL")
        assert {wording(DRONES[2]), wording(LEADER)} <= {row[0] for row in kept}
    text = subprocess.run([sys.executable, "-m", "bot", "gaps"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Gaps, last 30 days: 8 questions in 4 groups")
    assert "1 question asked outside the home servers went unanswered too; their text is not kept." in text.stdout
    assert "1. 5 questions (5 not answered)" in text.stdout and "missing from the corpus: drones" in text.stdout


def run_cli(args: list[str], env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    printed: dict[str, object] = json.loads(result.stdout)
    return printed


def fill_stats(log: Log) -> None:
    """Ten questions over three days: outcomes, latencies, passages quoted and votes with known figures."""
    latencies = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0]
    for n, latency in enumerate(latencies):
        answered = n < 6
        question_id = log.add(f"question {n}", "answered" if answered else "not_answered", age_days=n % 3,
                              latency_ms=latency, quoted=(("a", "001.txt"), ("b", "002.txt")) if answered else ())
        if n < 3:
            log.vote(question_id, n != 0, user_id=MEMBER_ID)
    log.add("too soon", "refused")
    log.add("long ago", age_days=20, latency_ms=9000.0)


def test_stats_figures(question_log: Log) -> None:
    """Per day, outcomes, the answered and helpful shares, most quoted sources and latency percentiles."""
    fill_stats(question_log)
    with closing(question_log.read()) as connection:
        found = reports.stats(connection, 7, now=NOW)
    assert len(found.per_day) == 7 and sum(n for _, n in found.per_day) == 9
    assert found.per_day[-1][1] == 4  # today: questions 0, 3, 6 and the refused one
    assert found.outcomes == {"answered": 6, "not_answered": 2, "refused": 1}
    assert found.answered_share == 6 / 8 and found.helpful_share == 2 / 3
    assert found.sources == [("001.txt", 6), ("002.txt", 6)]
    assert found.latency_ms == {"p50": 450.0, "p95": 765.0, "max": 800.0}


def test_bot_stats_cli(question_log: Log, tmp_path: Path) -> None:
    """`python -m bot stats --json` prints the figures; a missing log is a clear error, not a traceback."""
    fill_stats(question_log)
    question_log.questions.flush()
    env = {**os.environ, **question_log.backend.env, "SEEDS_DIR": str(SEEDS)}
    printed = run_cli(["stats", "--json", "--days", "7"], env)
    assert printed["questions"] == 9 and printed["answered_share"] == 0.75
    assert printed["votes"] == {"helpful": 2, "not_helpful": 1, "helpful_share": 2 / 3}
    assert printed["latency_ms"] == {"p50": 450.0, "p95": 765.0, "max": 800.0}
    assert [s["id"] for s in printed["sources"]] == ["001.txt", "002.txt"]  # type: ignore[attr-defined]
    none = {"DATABASE_URL": question_log.backend.cluster.create_database()} if question_log.backend.cluster else {
        "DATABASE_PATH": str(tmp_path / "none.sqlite3")}
    missing = subprocess.run([sys.executable, "-m", "bot", "stats"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, **none}, timeout=60)
    assert missing.returncode == 1 and "there is no question log at" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = subprocess.run([sys.executable, "-m", "bot", "gaps", "--days", "0"], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "from 1 to" in bad.stderr


async def test_dossier_gaps_and_stats_for_moderators(tmp_path: Path, seeds_copy: Path,
                                                     log_backend: LogBackend) -> None:
    """Moderators see gaps and stats privately, built from what members asked; hostile questions stay inert."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, **log_backend.settings)
    missing = unanswerable(gateway)
    hostile = f"{answerable(gateway, 5)} @everyone <@930000000000000001> **Brennick**"
    try:
        for question, who in ((missing, ASKER), (missing.lower(), OTHER_MEMBER), (hostile, ASKER),
                              ("What is the capital of Peru?", ASKER)):
            await gateway.command("ask", who=who, question=question)
        await gateway.say(f"<@{BOT_ID}> {missing}", mentions=[bot_mention()])
        gaps = await gateway.command("dossier gaps", who=ADMIN, days=7)
        stats = await gateway.command("dossier stats", who=ADMIN)
    finally:
        await gateway.close()
    assert [r.kind for r in gaps] == ["defer", "followup"] and gaps[0].message["flags"] & EPHEMERAL
    reply = gaps[1].message
    assert reply["content"].startswith("4 questions went unanswered or were voted not helpful, in 2 groups")
    fields = reply["embeds"][0]["fields"]
    assert fields[0]["name"] == "1. 3 questions (3 not answered)"
    assert fields[0]["value"].startswith(f"“{markdown(truncate(' '.join(missing.split()), 200))}”")
    assert fields[0]["value"].endswith(f"Missing from the corpus: {MISSING}")
    assert "\nMissing from the corpus: " in fields[1]["value"] and fields[1]["value"].endswith("Brennick")
    assert reply["embeds"][0]["title"] == "Gaps: the last 7 days"
    assert "@everyone" not in json.dumps(reply) and not re.search(r"<@\d", json.dumps(reply))
    assert_safe(gaps + stats)
    figures = {f["name"]: f["value"] for f in stats[1].message["embeds"][0]["fields"]}
    assert figures["Questions"] == "5" and figures["Answered"] == "0% of 5 questions searched"
    assert figures["Questions per day (UTC)"].splitlines()[-2].endswith("  5")
    assert re.fullmatch(r"p50 [\d,]+ ms, p95 [\d,]+ ms, max [\d,]+ ms", figures["Answer time"])
