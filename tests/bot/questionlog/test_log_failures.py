"""When the question log's database fails, answers go out all the same: a locked database delays a row, one that
cannot be opened turns the log off, a stuck one drops entries with one error, and a server that goes down costs only
the entries that cannot wait. With a real SQLite file and a real PostgreSQL database (each test runs on both)."""

import logging
import time
from pathlib import Path

import pytest

import bot.questionlog.sqlite
import bot.questionlog.writer
from bot.questionlog.database import QuestionLogError
from bot.questionlog.questionlog import QuestionLog
from tests.bot.harness import BOT_ID, GUILD_ID, MEMBER_ID, Gateway, bot_mention, fake_index_gateway
from tests.bot.questionlog.asking import OFF_TOPIC, answerable, entry, labels, rows
from tests.bot.questionlog.databases import NO_POSTGRES, Cluster, LogBackend, wait_for


@pytest.fixture(autouse=True)
def short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write gives up on a locked database after 3 s here, not 2 s: long enough for an answer to go out first
    on a busy machine, short enough for the test."""
    monkeypatch.setattr(bot.questionlog.sqlite, "LOCK_WAIT_SECONDS", 3.0)


async def test_a_locked_database_delays_the_row_not_the_answer(gateway: Gateway, log_backend: LogBackend,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """While another connection holds the database locked, the answer goes out at once; the row is written when
    the lock is gone, or, if it lasts too long, the error is logged and the next question is recorded again."""
    gateway.bot.questions.flush()
    with log_backend.locked():
        requests = await gateway.command("ask", question=OFF_TOPIC)
        assert [r.kind for r in requests] == ["defer", "followup"]
    assert rows(gateway, "SELECT question FROM questions") == [(OFF_TOPIC,)]

    with caplog.at_level(logging.ERROR, logger="bot"), log_backend.locked():
        requests = await gateway.command("ask", question="Lost while locked?")
        assert [r.kind for r in requests] == ["defer", "followup"]
        gateway.bot.questions.flush(timeout=30)
    assert "question log: could not write the question" in caplog.text and "lock" in caplog.text
    assert gateway.bot.questions.lost == 1
    await gateway.command("ask", question="Recorded again?")
    assert [r[0] for r in rows(gateway, "SELECT question FROM questions ORDER BY asked_at")] == [
        OFF_TOPIC, "Recorded again?"]


def unusable(backend: LogBackend, folder: Path) -> dict[str, object]:
    """Settings for a log that cannot be opened: a file that is not SQLite, or a PostgreSQL server that is not
    there (a port nothing listens on)."""
    if not backend.postgres:
        database = folder / "broken.sqlite3"
        database.write_bytes(b"this is not a database, " * 200)
        return {"database_path": database}
    from pydantic import SecretStr

    from tests.bot.questionlog.databases import free_port

    return {**backend.settings,
            "database_url": SecretStr(f"postgresql://dossier:hunter2@127.0.0.1:{free_port()}/nowhere")}


async def test_a_database_that_cannot_be_opened_leaves_answers_alone(tmp_path: Path, seeds_copy: Path,
                                                                     log_backend: LogBackend,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A database file that is not SQLite, or a PostgreSQL server that is down when the bot starts, turns the log
    off, says so in the bot's log (never with the database password), and members are answered."""
    broken = unusable(log_backend, tmp_path)
    with caplog.at_level(logging.ERROR, logger="bot"):
        gateway = await fake_index_gateway(tmp_path, seeds_copy, **broken)
    try:
        why = "cannot reach the question log's database" if log_backend.postgres else "not a database"
        assert "the question log is off" in caplog.text and why in caplog.text and "hunter2" not in caplog.text
        question = answerable(gateway)
        requests = await gateway.command("ask", question=question)
        assert [r.kind for r in requests] == ["defer", "followup"] and requests[1].message["embeds"]
        assert "Helpful" not in labels(requests[1])
        mention = await gateway.say(f"<@{BOT_ID}> {OFF_TOPIC}", mentions=[bot_mention()])
        assert "does not cover this" in mention[0].message["content"]
    finally:
        await gateway.close()
    if not log_backend.postgres:
        assert Path(str(broken["database_path"])).read_bytes() == b"this is not a database, " * 200


def test_a_stuck_database_drops_entries_with_one_error_not_a_flood(log_backend: LogBackend,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Past QUEUE_LIMIT waiting writes, new entries are dropped: one error as it starts, one count when it ends, and
    every entry is either written or counted."""
    monkeypatch.setattr(bot.questionlog.writer, "QUEUE_LIMIT", 3)
    questions = QuestionLog.open(log_backend.location, days=90)
    questions.flush()
    with caplog.at_level(logging.ERROR, logger="bot"):
        with log_backend.locked():
            for question_id in range(1, 11):
                questions.record(entry(question_id, time.time()))
        questions.flush(timeout=30)
    questions.close()
    assert sum("new entries are dropped" in r.getMessage() for r in caplog.records) == 1
    dropped = [int(r.getMessage().split("dropped ")[1].split()[0]) for r in caplog.records
               if "entries while" in r.getMessage()]
    (written,) = log_backend.rows("SELECT count(*) FROM questions")[0]
    assert len(dropped) == 1 and dropped[0] > 0 and written + dropped[0] == 10
    assert questions.lost == dropped[0]


def test_a_server_that_goes_down_costs_only_the_entries_that_cannot_wait(postgres: Cluster | None, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL stops while questions are logged: a vote is told at once that it was not recorded, entries wait
    in memory and are written once the server is back, and those past QUEUE_LIMIT are dropped and counted (none
    lost otherwise); the log says so, without the password."""
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    backend = LogBackend("postgresql", tmp_path, postgres, postgres.create_database())
    monkeypatch.setattr(bot.questionlog.writer, "QUEUE_LIMIT", 5)
    questions = QuestionLog.open(backend.location, days=90, homes=[GUILD_ID])
    questions.record(entry(1, time.time()))
    questions.flush()
    with caplog.at_level(logging.INFO, logger="bot"):
        postgres.stop_server()
        try:
            for question_id in range(2, 10):
                questions.record(entry(question_id, time.time()))
            started = time.monotonic()
            with pytest.raises(QuestionLogError):
                questions.vote(1, MEMBER_ID, GUILD_ID, helpful=True).result(timeout=10)
            assert time.monotonic() - started < 5
            questions.flush()  # returns while the server is away: what waits for it is not lost
        finally:
            postgres.start_server()
        wait_for(lambda: questions.reachable, what="the writer reconnecting")
        questions.flush()
    written = backend.rows("SELECT count(*) FROM questions")[0][0]
    lost = questions.lost
    questions.close()
    assert written + lost == 9 and 0 < lost <= 4
    assert "lost the connection to postgresql://dossier:***@127.0.0.1" in caplog.text
    assert "can be reached again" in caplog.text and "new entries are dropped" in caplog.text
    assert postgres.password not in caplog.text
    backend.drop()
