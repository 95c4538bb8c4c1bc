"""The question log: a row per question asked on Discord, members as keyed hashes, private questions without text,
retention, the schema's version, and QUESTION_LOG=false. Through the real CommandTree and handlers, over an index
built with the fast fake embedder, with a real SQLite file and a real PostgreSQL database (each test runs on both,
with the same assertions)."""

import contextlib
import hmac
import time
from pathlib import Path

import numpy as np
import pytest

import bot.questionlog.schema
from bot.questionlog.database import QuestionLogError
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
    bot_mention,
    fake_index_gateway,
)
from tests.bot.questionlog.asking import MISSING, OFF_TOPIC, answerable, entry, labels, rows, unanswerable
from tests.bot.questionlog.databases import LogBackend


def log_key(backend: LogBackend) -> bytes:
    """The key the log hashes with: the key file beside a SQLite log, QUESTION_LOG_KEY for PostgreSQL."""
    return bytes.fromhex(backend.key) if backend.postgres else key_path(backend.path).read_bytes()


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
