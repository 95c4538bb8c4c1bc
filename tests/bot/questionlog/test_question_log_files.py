"""The question log's files and schema: created for their owner only, the key guarded (a key file for SQLite, a
setting for PostgreSQL), two processes opening a new log at once, and a log written by the previous version brought
up to date without a Discord id or a stray word left. What is not about SQLite's files runs on both databases."""

import contextlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.questionlog.database import LogSettingError, QuestionLogError
from bot.questionlog.entry import Entry
from bot.questionlog.keys import key_path
from bot.questionlog.questionlog import QuestionLog, open_question_log
from bot.questionlog.schema import LATEST, VERSION_1, row_key
from bot.settings import Settings
from tests.bot.harness import CHANNEL_ID, GUILD_ID, MEMBER_ID, SECOND_GUILD_ID
from tests.bot.questionlog.databases import LogBackend
from tests.conftest import ROOT

OPEN_AT_ONCE = """
import sys, time
from bot.questionlog.database import Location
from bot.questionlog.questionlog import QuestionLog
from bot.settings import Settings
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    pass
QuestionLog.open(Location.of(Settings(_env_file=None)), days=90).close()
"""


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022), under which files are made readable by everyone unless their creator says otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def asked(question: str = "Who pays the Taliban?", **details: object) -> Entry:
    values: dict[str, object] = {"id": row_key(), "asked_at": time.time(), "guild_id": GUILD_ID,
                                 "channel_id": CHANNEL_ID, "user_id": MEMBER_ID, "via": "slash",
                                 "question": question, "private": False, "outcome": "not_answered"}
    return Entry(**{**values, **details})  # type: ignore[arg-type]


def test_the_files_are_the_owners_alone(tmp_path: Path, loose_umask: None) -> None:
    """The database, its -wal and -shm files and the key are created readable by their owner only, whatever the
    umask; a database an older version left readable by others is closed to them when the log opens."""
    database = tmp_path / "log.sqlite3"
    questions = QuestionLog.open(database, days=90, homes=[GUILD_ID])
    questions.record(asked())
    questions.flush()
    files = [database, database.with_name("log.sqlite3-wal"), database.with_name("log.sqlite3-shm"),
             key_path(database)]
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    questions.close()
    database.chmod(0o644)
    QuestionLog.open(database, days=90).close()
    assert mode(database) == 0o600


def test_a_log_deleted_under_the_bot_is_made_again_where_reports_read(tmp_path: Path) -> None:
    """The database deleted while the bot runs (its key left): the health probe and the next questions are written
    to a new database at DATABASE_PATH, where gaps and stats read, not into the deleted file."""
    database = tmp_path / "log.sqlite3"
    questions = QuestionLog.open(database, days=90, homes=[GUILD_ID])
    try:
        questions.record(asked("Who armed the Taliban before the deletion?"))
        questions.flush()
        for side in ("", "-wal", "-shm"):
            database.with_name(database.name + side).unlink(missing_ok=True)
        questions.record(asked("Who armed the Taliban after the deletion?"))
        questions.probe().result(timeout=10)
        questions.flush()
        assert database.exists() and mode(database) == 0o600
        with contextlib.closing(sqlite3.connect(database)) as reading:
            kept = [row[0] for row in reading.execute("SELECT question FROM questions")]
        assert kept == ["Who armed the Taliban after the deletion?"]
        assert questions.lost == 0
    finally:
        questions.close()


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    """A key file readable by other users turns the log off with a message saying how to fix it."""
    database = tmp_path / "log.sqlite3"
    QuestionLog.open(database, days=90).close()
    key_path(database).chmod(0o644)
    with pytest.raises(QuestionLogError, match=r"can be read by other users \(mode 644\).*chmod 600"):
        QuestionLog.open(database, days=90)


def test_a_lost_key_is_an_error_when_the_log_holds_questions(tmp_path: Path) -> None:
    """Without its key, a log that holds questions is not opened (no new key is made, the bot answers with the log
    off); a log without questions gets a new key."""
    database = tmp_path / "log.sqlite3"
    questions = QuestionLog.open(database, days=90)
    questions.close()
    key_path(database).unlink()
    QuestionLog.open(database, days=90).close()  # nothing logged yet: a new key is fine
    assert key_path(database).exists()
    questions = QuestionLog.open(database, days=90)
    questions.record(asked())
    questions.close()
    key = key_path(database).read_bytes()
    key_path(database).unlink()
    with pytest.raises(QuestionLogError, match=r"key file .* is missing, but the question log beside it holds"):
        QuestionLog.open(database, days=90)
    assert not key_path(database).exists()
    settings = Settings(_env_file=None, database_path=database)  # type: ignore[call-arg]
    off = open_question_log(settings)
    assert not off.enabled and "is missing" in str(off.off)
    key_path(database).write_bytes(key)
    key_path(database).chmod(0o600)
    QuestionLog.open(database, days=90).close()


def test_two_processes_open_a_new_log_at_once(log_backend: LogBackend, tmp_path: Path) -> None:
    """Two bot processes opening the same new log at the same moment both succeed, with one schema and one key."""
    for attempt in range(4):
        backend = LogBackend(log_backend.name, tmp_path / str(attempt), log_backend.cluster, key=log_backend.key,
                             url=log_backend.cluster.create_database() if log_backend.cluster else None)
        backend.folder.mkdir()
        env = {**os.environ, **backend.env}
        processes = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for process in processes:  # both have imported what opening a log needs
            assert process.stdout is not None and process.stdout.readline() == "ready\n", process.communicate()
        start = time.time() + 0.05  # then both spin until the same moment and open the log
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(f"{start}\n")
            process.stdin.flush()
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
        with contextlib.closing(backend.open()) as database:
            assert database.schema_version() == LATEST
            assert database.tables().count("questions") == 1
            assert len(database.fetchall("SELECT value FROM log_meta WHERE name = 'key_check'")) == 1
        if not backend.postgres:
            assert len(key_path(backend.path).read_bytes()) == 32
        backend.drop()


def test_a_different_key_is_refused(log_backend: LogBackend) -> None:
    """A log is opened only with the key its hashes were made with: another QUESTION_LOG_KEY, or another key file,
    is refused with a message saying so, and the log's rows are left as they were."""
    questions = QuestionLog.open(log_backend.location, days=90)
    questions.record(asked())
    questions.close()
    other = secrets.token_hex(32)
    if log_backend.postgres:
        log_backend.key = other
        refused: type[Exception] = LogSettingError
    else:
        key_path(log_backend.path).write_bytes(bytes.fromhex(other))
        refused = QuestionLogError
    with pytest.raises(refused, match="is not the key"):
        QuestionLog.open(log_backend.location, days=90)
    assert log_backend.rows("SELECT count(*) FROM questions") == [(1,)]


def version_one(backend: LogBackend, key: bytes) -> None:
    """A log as the previous version wrote it: Discord ids as keys, member hashes across servers, every server's
    text, a DM's channel, a private question's missing terms, a refused question's text."""
    if not backend.postgres:
        key_path(backend.path).write_bytes(key)
        key_path(backend.path).chmod(0o600)
    member = hmac.new(key, str(MEMBER_ID).encode(), "sha256").hexdigest()[:32]
    voter = hmac.new(key, str(MEMBER_ID + 10).encode(), "sha256").hexdigest()[:32]
    rows = [  # id, guild, channel, via, question, private, outcome, missing
        (101, GUILD_ID, CHANNEL_ID, "mention", "Who pays <@5> the Taliban? https://x.test/a", 0, "not_answered",
         '["x"]'),
        (102, GUILD_ID, CHANNEL_ID, "slash", "Who arms the Taliban?", 0, "answered", "[]"),
        (103, SECOND_GUILD_ID, 7, "slash", "Elsewhere question about Roeberta", 0, "not_answered", '["Roeberta"]'),
        (104, None, 8, "mention", "A DM about Doefield", 0, "not_answered", '["Doefield"]'),
        (105, GUILD_ID, CHANNEL_ID, "slash", None, 1, "not_answered", '["Quillfeather"]'),
        (106, GUILD_ID, CHANNEL_ID, "slash", "Refused Floodwater", 0, "refused", "[]"),
    ]
    with contextlib.closing(backend.open()) as database, database.transaction():
        database.script(VERSION_1)
        for question_id, guild, channel, via, text, private, outcome, missing in rows:
            wording_id = None
            if text is not None:
                database.execute("INSERT INTO wordings (wording) VALUES (?) ON CONFLICT DO NOTHING",
                                 (text.casefold(),))
                wording_id = database.fetchall("SELECT id FROM wordings WHERE wording = ?", (text.casefold(),))[0][0]
            database.execute("INSERT INTO questions VALUES (?, 1.7e9, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 10.0)",
                             (question_id, guild, channel, member, via, text, wording_id, private, outcome, missing))
        database.execute("INSERT INTO quoted VALUES (102, 1, 'c1', '001.txt')")
        database.execute("INSERT INTO votes VALUES (102, ?, 1, 1.7e9)", (voter,))
        database.set_schema_version(1)


def test_a_log_of_the_previous_version_is_brought_up_to_date(log_backend: LogBackend) -> None:
    """Opening a version-1 log gives every row a random key, scopes member hashes to their server (forget then
    finds the old rows), keeps a mention's message for deletes, and keeps words only for the home server's
    public questions, without mentions or links."""
    key = bytes.fromhex(log_backend.key)
    version_one(log_backend, key)
    questions = QuestionLog.open(log_backend.location, days=36500, homes=[GUILD_ID])
    questions.flush()
    found = log_backend.rows("SELECT id, guild_id, channel_id, question, missing, wording_id IS NOT NULL "
                             "FROM questions ORDER BY via, guild_id NULLS FIRST, question NULLS FIRST")
    assert not {row[0] for row in found} & set(range(101, 107))
    assert [row[1:] for row in found] == [
        (None, None, None, "[]", 0),  # the DM
        (GUILD_ID, CHANNEL_ID, "Who pays the Taliban?", '["x"]', 1),
        (GUILD_ID, CHANNEL_ID, None, "[]", 0),  # the private one
        (GUILD_ID, CHANNEL_ID, None, "[]", 0),  # the refused one
        (GUILD_ID, CHANNEL_ID, "Who arms the Taliban?", "[]", 1),
        (SECOND_GUILD_ID, None, None, "[]", 0),
    ]
    wordings = sorted(row[0] for row in log_backend.rows("SELECT wording FROM wordings"))
    assert wordings == ["who arms the taliban", "who pays the taliban"]
    assert log_backend.rows("SELECT count(*) FROM votes JOIN quoted USING (question_id)") == [(1,)]
    text = json.dumps(log_backend.rows("SELECT * FROM questions"))
    for word in ("Roeberta", "Doefield", "Quillfeather", "Floodwater", "x.test", "<@5>"):
        assert word not in text
    voted = questions.vote(found[4][0], MEMBER_ID + 10, GUILD_ID, helpful=False).result(timeout=10)
    assert voted is True  # the old vote is the same member's, in the same server: changed, not doubled
    assert questions.forget_member(GUILD_ID, MEMBER_ID).result(timeout=10) == (4, 0)
    questions.forget_message(101)
    questions.close()
    assert log_backend.rows("SELECT guild_id FROM questions ORDER BY 1 NULLS FIRST") == [(None,), (SECOND_GUILD_ID,)]


def test_a_mention_deleted_before_its_row_is_written_leaves_no_row(log_backend: LogBackend) -> None:
    """When the message is deleted while its question is still queued, the question is not written after all."""
    questions = QuestionLog.open(log_backend.location, days=90, homes=[GUILD_ID])
    questions.forget_message(555)
    questions.record(asked(message_id=555, via="mention"))
    questions.record(asked("Another question?", message_id=556, via="mention"))
    questions.close()
    assert log_backend.rows("SELECT question FROM questions") == [("Another question?",)]


def test_setup_makes_env_for_its_owner_only(tmp_path: Path, loose_umask: None) -> None:
    """scripts/setup copies .env.example to a .env only its owner can read (it will hold the token), and closes
    one an older set-up left open, keeping what it holds."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", project / "scripts" / "setup")
    shutil.copy(ROOT / ".env.example", project / ".env.example")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    venv = project / ".venv" / "bin"
    venv.mkdir(parents=True)
    for tool in ("python", "pip"):  # the package installs are not what is tested here: a 3.11 that does nothing
        (venv / tool).write_text("#!/bin/sh\necho 3.11\n")
        (venv / tool).chmod(0o755)
    subprocess.run(["bash", "scripts/setup"], cwd=project, check=True, timeout=60)
    env = project / ".env"
    assert mode(env) == 0o600 and env.read_bytes() == (ROOT / ".env.example").read_bytes()
    env.write_text("DISCORD_TOKEN=secret\n")
    env.chmod(0o644)
    subprocess.run(["bash", "scripts/setup"], cwd=project, check=True, timeout=60)
    assert mode(env) == 0o600 and env.read_text() == "DISCORD_TOKEN=secret\n"
