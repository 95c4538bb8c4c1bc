"""The question log: a row per question asked on Discord, members as keyed hashes, private questions without text,
retention, and answers that go out whatever happens to the database. Through the real CommandTree and handlers,
over an index built with the fast fake embedder, with a real SQLite file and a real PostgreSQL database (each test
runs on both, with the same assertions)."""

import contextlib
import hmac
import logging
import time
from pathlib import Path

import numpy as np
import pytest

import bot.questionlog.sqlite
import bot.questionlog.writer
from bot.questionlog.connect import open_database
from bot.questionlog.database import Location, QuestionLogError
from bot.questionlog.entry import Entry
from bot.questionlog.keys import key_path
from bot.questionlog.questionlog import QuestionLog
from bot.questionlog.retention import DAY_SECONDS
from bot.questionlog.schema import LATEST, wording
from tests.bot.harness import (
    ADMIN,
    BOT_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_ID,
    OTHER_MEMBER,
    THREAD_ID,
    Gateway,
    Request,
    bot_mention,
    fake_index_gateway,
)
from tests.bot.questionlog.databases import NO_POSTGRES, Cluster, LogBackend, wait_for

OFF_TOPIC = "What is the capital of Peru?"
MISSING = "Kaftarzadeh"  # a name the corpus never mentions


def answerable(gateway: Gateway, nth: int = 0) -> str:
    """A question the fake embedder answers for sure: the words of a passage of the index."""
    return [c.text for c in gateway.bot.searcher.index.chunks if 200 < len(c.text) < 900][nth]


def unanswerable(gateway: Gateway, nth: int = 0) -> str:
    """A question on the corpus's subject that it does not answer: a passage's words and a name it lacks."""
    return f"{answerable(gateway, nth)} {MISSING}"


def rows(gateway: Gateway, sql: str, *args: object) -> list[tuple[object, ...]]:
    """What the log's database holds, once the bot's writes are done."""
    gateway.bot.questions.flush()
    with contextlib.closing(open_database(Location.of(gateway.bot.settings), read_only=True)) as database:
        return database.fetchall(sql, args)


def log_key(backend: LogBackend) -> bytes:
    """The key the log hashes with: the key file beside a SQLite log, QUESTION_LOG_KEY for PostgreSQL."""
    return bytes.fromhex(backend.key) if backend.postgres else key_path(backend.path).read_bytes()


def labels(request: Request) -> list[str]:
    return [c["label"] for row in request.message.get("components", []) for c in row["components"]]


async def test_a_row_per_question_with_hashed_members_and_no_private_text(gateway: Gateway,
                                                                         log_backend: LogBackend) -> None:
    """/ask, a private /ask and a mention each leave one row: place, outcome, passages quoted, missing terms,
    generation, latency; the member only as a keyed hash scoped to the server, a random key rather than a Discord
    id, and a private question without its text, embedding or missing terms."""
    question = answerable(gateway)
    answer = (await gateway.command("ask", question=question))[-1]
    await gateway.command("ask", question=f"{unanswerable(gateway, 1)} (secret)", private=True)
    await gateway.say(f"<@{BOT_ID}> {unanswerable(gateway)}", mentions=[bot_mention()])
    found = rows(gateway, "SELECT id, guild_id, channel_id, user_hash, via, question, private, outcome, generation, "
                          "latency_ms, missing FROM questions ORDER BY asked_at")
    assert [(r[4], r[6], r[7]) for r in found] == [("slash", 0, "answered"), ("slash", 1, "not_answered"),
                                                   ("mention", 0, "not_answered")]
    assert [r[5] for r in found] == [" ".join(question.split()), None, " ".join(unanswerable(gateway).split())]
    assert [r[10] for r in found] == ["[]", "[]", f'["{MISSING}"]']
    sent = {int(r.response["id"]) for r in gateway.http.requests if isinstance(r.response, dict) and "id" in r.response}
    assert not {r[0] for r in found} & (gateway.fed | sent) and len({r[0] for r in found}) == 3
    assert [(r[1], r[2]) for r in found] == [(GUILD_ID, CHANNEL_ID), (GUILD_ID, CHANNEL_ID), (GUILD_ID, THREAD_ID)]
    generation = gateway.bot.searcher.index.pointer.generation
    assert all(r[8] == generation and isinstance(r[9], float) and r[9] > 0 for r in found)

    key = log_key(log_backend)
    member = hmac.new(key, str(MEMBER_ID).encode(), "sha256").hexdigest()[:32]
    expected = hmac.new(key, f"{GUILD_ID}:{member}".encode(), "sha256").hexdigest()[:32]
    assert {r[3] for r in found} == {expected}
    if not log_backend.postgres:  # the key file; a PostgreSQL log's key is a setting
        assert key_path(log_backend.path).stat().st_mode & 0o777 == 0o600
    database = log_backend.file_bytes()
    assert str(MEMBER_ID).encode() not in database and b"(secret)" not in database

    quoted = rows(gateway, "SELECT chunk_id FROM quoted WHERE question_id = ? ORDER BY rank", found[0][0])
    texts = {c.id: c.text for c in gateway.bot.searcher.index.chunks}
    cards = answer.message["embeds"]
    assert len(quoted) == len(cards) and texts[quoted[0][0]] == question
    assert rows(gateway, "SELECT count(*) FROM quoted WHERE question_id = ?", found[2][0]) == [(0,)]  # related only
    wordings = rows(gateway, "SELECT wording, model FROM wordings")
    assert sorted(wordings) == sorted((wording(q), "fake-hash-64")  # none for the private question
                                      for q in (question, unanswerable(gateway)))


async def test_refused_questions_are_logged_as_refused(tmp_path: Path, seeds_copy: Path,
                                                       log_backend: LogBackend) -> None:
    """A question refused by the cooldown, and an empty one, are rows with the outcome "refused", without text."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, ask_cooldown_rate=1, ask_cooldown_seconds=60,
                                       **log_backend.settings)
    try:
        await gateway.command("ask", question=OFF_TOPIC)
        refused = await gateway.command("ask", question="Who pays the Taliban?")
        assert "try again in" in refused[0].message["content"]
        await gateway.command("ask", who=OTHER_MEMBER, question="   ")
        await gateway.say(f"<@{BOT_ID}> too soon", mentions=[bot_mention()])
        found = rows(gateway, "SELECT via, question, outcome, latency_ms FROM questions ORDER BY asked_at")
    finally:
        await gateway.close()
    assert found[1:] == [("slash", None, "refused", None), ("slash", None, "refused", None),
                         ("mention", None, "refused", None)]


def entry(question_id: int, asked_at: float, **details: object) -> Entry:
    values: dict[str, object] = {"id": question_id, "asked_at": asked_at, "guild_id": GUILD_ID,
                                 "channel_id": CHANNEL_ID, "user_id": MEMBER_ID, "via": "slash",
                                 "question": f"question {question_id}", "private": False, "outcome": "answered"}
    return Entry(**{**values, **details})  # type: ignore[arg-type]


def test_retention_deletes_old_rows_with_their_votes(log_backend: LogBackend) -> None:
    """Rows older than QUESTION_LOG_DAYS go when the log opens, with their passages, votes and embeddings."""
    database = log_backend.location
    questions = QuestionLog.open(database, days=90, homes=[GUILD_ID])
    now = time.time()
    for question_id, age_days in ((1, 100), (2, 89), (3, 1)):
        questions.record(entry(question_id, now - age_days * DAY_SECONDS, quoted=(("c1", "s1"),),
                               vector=np.ones(4, np.float32) / 2, model="m"))
        questions.vote(question_id, MEMBER_ID, GUILD_ID, helpful=False).result(timeout=10)
    questions.record(entry(4, now - 100 * DAY_SECONDS, question="Question 3?"))  # its wording lives on in 3
    questions.close()
    QuestionLog.open(database, days=90, homes=[GUILD_ID]).close()
    assert [r[0] for r in log_backend.rows("SELECT id FROM questions ORDER BY id")] == [2, 3]
    for table in ("quoted", "votes"):
        assert [r[0] for r in log_backend.rows(f"SELECT question_id FROM {table} ORDER BY 1")] == [2, 3]
    assert [r[0] for r in log_backend.rows("SELECT wording FROM wordings ORDER BY 1")] == ["question 2", "question 3"]


def test_schema_is_versioned_and_a_newer_one_refused(log_backend: LogBackend) -> None:
    """A new database gets every migration (and, SQLite, WAL mode); one written by a newer Dossier is refused."""
    QuestionLog.open(log_backend.location, days=90).close()
    with contextlib.closing(log_backend.open()) as database:
        assert database.schema_version() == LATEST == len(bot.questionlog.schema.MIGRATIONS)
        if not log_backend.postgres:
            assert database.fetchone("PRAGMA journal_mode") == ("wal",)
        with database.transaction():
            database.set_schema_version(LATEST + 1)
    with pytest.raises(QuestionLogError, match="newer Dossier"):
        QuestionLog.open(log_backend.location, days=90)


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


@pytest.fixture(autouse=True)
def short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write gives up on a locked database after 3 s here, not 2 s: long enough for an answer to go out first
    on a busy machine, short enough for the test."""
    monkeypatch.setattr(bot.questionlog.sqlite, "LOCK_WAIT_SECONDS", 3.0)


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


async def test_question_log_false_records_nothing(tmp_path: Path, seeds_copy: Path, log_backend: LogBackend) -> None:
    """QUESTION_LOG=false: no database file or table, no vote buttons, and /dossier gaps says the log is off."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, question_log=False, **log_backend.settings)
    try:
        answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
        assert answer.message["embeds"] and "Helpful" not in labels(answer)
        reply = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    finally:
        await gateway.close()
    if log_backend.postgres:
        with contextlib.closing(log_backend.open()) as database:
            assert database.tables() == []
    else:
        assert not log_backend.path.exists() and not key_path(log_backend.path).exists()
    assert reply.message["flags"] & EPHEMERAL and "The question log is off: QUESTION\\_LOG is false" in (
        reply.message["content"])


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
