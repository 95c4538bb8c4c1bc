"""What an operator does with the question log from a shell: `python -m bot log migrate`, `log export --json` and
`log copy` (SQLite into PostgreSQL), and `python -m bot health`; on both databases where both apply. Every command
runs as a subprocess, as an operator runs it; the database password is never in what they print."""

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bot.questionlog import reports
from bot.questionlog.connect import open_database
from bot.questionlog.database import Location
from bot.questionlog.entry import Entry
from bot.questionlog.keys import key_path
from bot.questionlog.questionlog import QuestionLog
from bot.questionlog.schema import LATEST, row_key
from tests.bot.harness import CHANNEL_ID, GUILD_ID, MEMBER_ID, SECOND_GUILD_ID
from tests.bot.questionlog.databases import NO_POSTGRES, Cluster, LogBackend, free_port
from tests.bot.questionlog.test_question_log_files import version_one
from tests.conftest import ROOT, FakeEmbedder


def bot(backend_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "DATABASE_PATH", "QUESTION_LOG_KEY", "HEALTH_PORT")}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**env, **backend_env},
                          capture_output=True, text=True, timeout=120)


def asked(question: str, guild_id: int = GUILD_ID, user_id: int = MEMBER_ID, **details: object) -> Entry:
    values: dict[str, object] = {"id": row_key(), "asked_at": time.time(), "guild_id": guild_id,
                                 "channel_id": CHANNEL_ID, "user_id": user_id, "via": "slash", "question": question,
                                 "private": False, "outcome": "not_answered"}
    return Entry(**{**values, **details})  # type: ignore[arg-type]


def fill(where: Location) -> list[int]:
    """Three questions (one voted on, one quoting passages, one with an embedding) in two servers."""
    questions = QuestionLog.open(where, days=90, homes=[GUILD_ID])
    entries = [asked("Who pays the Taliban?", vector=np.linspace(-1, 1, 8, dtype=np.float32), model="m"),
               asked("Who arms the Taliban?", outcome="answered", quoted=(("c1", "001.txt"), ("c2", "002.txt"))),
               asked("Asked elsewhere?", guild_id=SECOND_GUILD_ID)]
    for entry in entries:
        questions.record(entry)
    questions.vote(entries[1].id, MEMBER_ID + 1, GUILD_ID, helpful=True).result(timeout=10)
    questions.close()
    return [entry.id for entry in entries]


def test_log_migrate_brings_a_log_up_to_date(log_backend: LogBackend) -> None:
    """`log migrate` updates a log the previous version wrote and says from which version; run again, it says the
    log is up to date. A PostgreSQL log is named by its URL with the password hidden."""
    version_one(log_backend, bytes.fromhex(log_backend.key))
    first = bot(log_backend.env, "log", "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(f"schema version {LATEST} (it was 1)")
    again = bot(log_backend.env, "log", "migrate")
    assert again.stdout.strip().endswith(f"schema version {LATEST}, already up to date")
    if log_backend.postgres:
        assert ":***@127.0.0.1" in first.stdout
        assert log_backend.cluster is not None and log_backend.cluster.password not in first.stdout + first.stderr
    assert log_backend.rows("SELECT count(*) FROM questions") == [(6,)]


def test_log_export_prints_every_row_and_never_the_key(log_backend: LogBackend) -> None:
    """`log export --json` prints the log's schema, then one object a row of every table: hashes as stored,
    embeddings in base64, no Discord id and no key; without --json it says that is the only format."""
    ids = fill(log_backend.location)
    printed = bot(log_backend.env, "log", "export", "--json")
    assert printed.returncode == 0, printed.stderr
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    assert lines[0]["table"] == "log" and lines[0]["schema"] == LATEST
    tables = [line["table"] for line in lines[1:]]
    assert (tables.count("questions"), tables.count("quoted"), tables.count("votes"), tables.count("wordings")) == (
        3, 2, 1, 2)
    assert {line["id"] for line in lines if line["table"] == "questions"} == set(ids)
    vector = next(line["vector"] for line in lines if line["table"] == "wordings" and line["vector"])
    assert len(base64.b64decode(vector)) == 8
    key = log_backend.key if log_backend.postgres else key_path(log_backend.path).read_bytes().hex()
    assert key not in printed.stdout and str(MEMBER_ID) not in printed.stdout
    bare = bot(log_backend.env, "log", "export")
    assert bare.returncode == 2 and "--json" in bare.stderr


@pytest.fixture
def postgres_log(postgres: Cluster | None, tmp_path: Path) -> LogBackend:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    return LogBackend("postgresql", tmp_path, postgres, postgres.create_database())


def test_copy_from_sqlite_into_postgresql_keeps_members(postgres_log: LogBackend, tmp_path: Path) -> None:
    """`log copy` puts a SQLite log into PostgreSQL in one command when QUESTION_LOG_KEY is the SQLite log's key:
    gaps see its questions, a member who voted there still has one vote, /dossier forget finds their rows; run
    again, it adds nothing. With another key it refuses and says how to set the right one."""
    sqlite = tmp_path / "old.sqlite3"
    fill(Location(path=sqlite))
    key = key_path(sqlite).read_bytes().hex()
    wrong = bot({**postgres_log.env, "DATABASE_PATH": str(sqlite)}, "log", "copy")
    assert wrong.returncode == 2 and "QUESTION_LOG_KEY is not the key of the SQLite log" in wrong.stderr
    assert f"open('{key_path(sqlite)}', 'rb').read().hex()" in wrong.stderr and key not in wrong.stderr

    postgres_log.key = key
    env = {**postgres_log.env, "DATABASE_PATH": str(sqlite)}
    copied = bot(env, "log", "copy", "--json")
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["added"] == {"questions": 3, "votes": 1, "passages quoted": 2, "wordings": 2}
    assert json.loads(bot(env, "log", "copy", "--json").stdout)["added"] == {
        "questions": 0, "votes": 0, "passages quoted": 0, "wordings": 0}
    with contextlib.closing(open_database(postgres_log.location, read_only=True)) as database:
        found = reports.gaps(database, 7, FakeEmbedder, "m")  # every gap's wording has an embedding from "m"
    assert [gap.examples for gap in found.groups] == [("Who pays the Taliban?",)] and found.elsewhere == 1

    questions = QuestionLog.open(postgres_log.location, days=90, homes=[GUILD_ID])
    answered = postgres_log.rows("SELECT id FROM questions WHERE outcome = 'answered'")[0][0]
    assert questions.vote(answered, MEMBER_ID + 1, GUILD_ID, helpful=False).result(timeout=10) is True
    assert questions.forget_member(GUILD_ID, MEMBER_ID).result(timeout=10) == (2, 0)
    questions.close()
    postgres_log.drop()


def test_postgresql_settings_are_checked_and_the_password_never_shown(postgres_log: LogBackend) -> None:
    """A PostgreSQL log needs QUESTION_LOG_KEY (exit 2, saying how to make one); a wrong password is a setting to fix
    (exit 2); a server that is not there is unreachable (exit 69); a URL that is not PostgreSQL is refused (exit 2).
    No message repeats the password."""
    assert postgres_log.cluster is not None and postgres_log.url is not None
    password = postgres_log.cluster.password
    no_key = bot({"DATABASE_URL": postgres_log.url}, "log", "migrate")
    assert no_key.returncode == 2 and "QUESTION_LOG_KEY is not set" in no_key.stderr
    assert "secrets.token_hex(32)" in no_key.stderr
    refused = bot({**postgres_log.env, "DATABASE_URL": postgres_log.url.replace(password, "not-the-password")},
                  "log", "migrate")
    assert refused.returncode == 2 and "password authentication failed" in refused.stderr
    assert "dossier:***@127.0.0.1" in refused.stderr and "not-the-password" not in refused.stderr
    away = bot({**postgres_log.env, "DATABASE_URL": postgres_log.url.replace(
        f":{postgres_log.cluster.port}/", f":{free_port()}/")}, "stats")
    assert away.returncode == 69 and "cannot reach the question log's database" in away.stderr
    assert password not in away.stderr + away.stdout
    other = bot({"DATABASE_URL": f"mysql://dossier:{password}@127.0.0.1/log"}, "stats")
    assert other.returncode == 2 and "DATABASE_URL must be a PostgreSQL URL" in other.stderr
    assert password not in other.stderr
    postgres_log.drop()


def test_health_without_a_bot_is_unhealthy_in_one_line(tmp_path: Path) -> None:
    """`python -m bot health` with no bot on HEALTH_PORT prints one line and exits 1; without HEALTH_PORT it says
    to set it and exits 2. (A running bot's health: tests/test_deployment.py.)"""
    port = free_port()
    probed = bot({"HEALTH_PORT": str(port)}, "health")
    assert probed.returncode == 1 and len(probed.stdout.splitlines()) == 1
    assert probed.stdout.startswith(f"unhealthy: no bot answers at http://127.0.0.1:{port}/health")
    unset = bot({}, "health")
    assert unset.returncode == 2 and "HEALTH_PORT is not set" in unset.stderr

