"""Members' words in the question log stay where members were told they go: through the real CommandTree and event
handlers, over an index built with the fast fake embedder, with a real SQLite file. Words are kept only for
questions asked in the home server (GUILD_ID), never for other servers, DMs, private or refused questions;
mentions, emoji and links are stripped; deleting a message deletes its row, and a moderator can have a member
forgotten; members are told what is kept. On SQLite and on PostgreSQL, with the same assertions (but for what only
SQLite does: overwriting a forgotten row's bytes in its file)."""

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bot.questionlog.questionlog
from bot.questionlog.connect import open_database
from bot.questionlog.database import Location
from bot.questionlog.entry import Entry
from bot.questionlog.schema import row_key
from tests.bot.harness import (
    ADMIN,
    ASKER,
    BOT_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_ID,
    MOD_ROLE_ID,
    OTHER_MEMBER,
    SECOND_CHANNEL_ID,
    SECOND_GUILD_ID,
    SECOND_OWNER,
    Gateway,
    Request,
    assert_safe,
    bot_mention,
    fake_index_gateway,
)
from tests.bot.questionlog.databases import LogBackend
from tests.bot.questionlog.test_question_log import answerable, labels

NOTICE_HOME = "Dossier keeps questions asked here, with their text, for 90 days"
NOTICE_ELSEWHERE = "Dossier keeps when questions here are asked and how they are answered, never their text"


@pytest.fixture
def gateway(gateway: Gateway) -> Gateway:
    """The bot in the home server (GUILD_ID) and in another server it joined."""
    gateway.join(SECOND_GUILD_ID)
    return gateway


def asking(gateway: Gateway, name: str, nth: int = 0) -> str:
    """A question the corpus cannot answer, carrying a made-up name that nothing else in the test uses."""
    return f"{answerable(gateway, nth)} {name}"


def backend(gateway: Gateway) -> LogBackend:
    found: LogBackend = gateway.backend  # type: ignore[attr-defined]
    return found


def everything_stored(gateway: Gateway) -> str:
    """Every value of every table of the log, as text, once the bot's writes are done."""
    gateway.bot.questions.flush()
    return backend(gateway).stored_text()


def file_bytes(gateway: Gateway) -> bytes:
    """The database's files on disk, byte for byte, once the bot's writes are done: SQLite's file and its
    write-ahead log, or the PostgreSQL cluster's data files and write-ahead log."""
    gateway.bot.questions.flush()
    return backend(gateway).file_bytes()


def rows(gateway: Gateway, sql: str, *args: object) -> list[tuple[Any, ...]]:
    gateway.bot.questions.flush()
    with contextlib.closing(open_database(Location.of(gateway.bot.settings), read_only=True)) as database:
        return database.fetchall(sql, args)


def unescaped(request: Request) -> str:
    """The reply's text and embeds, markdown escapes taken out."""
    return re.sub(r"\\(.)", r"\1", json.dumps(request.message, ensure_ascii=False))


async def test_other_servers_and_dms_never_reach_home_gaps(gateway: Gateway) -> None:
    """Questions from another server (by /ask and by mention) and from a DM are counted in the home server's gaps
    but never shown, and none of their words is stored; the home server's own question is shown."""
    home = asking(gateway, "Hometonia")
    await gateway.command("ask", question=home)
    await gateway.command("ask", who=SECOND_OWNER, guild_id=SECOND_GUILD_ID, question=asking(gateway, "Roeberta", 1))
    await gateway.say(f"<@{BOT_ID}> {asking(gateway, 'Strangeville', 2)}", who=SECOND_OWNER,
                      mentions=[bot_mention()], guild_id=SECOND_GUILD_ID, channel_id=SECOND_CHANNEL_ID)
    dm = await gateway.command("ask", guild_id=None, question=asking(gateway, "Doefield", 3))
    assert dm[-1].kind == "followup" and dm[-1].message["embeds"]  # the DM was answered
    gaps = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    shown = unescaped(gaps)
    assert "Hometonia" in shown and "1 question went unanswered" in shown
    assert "3 questions asked outside the home servers went unanswered too; their text is not kept." in shown
    stored = everything_stored(gateway)
    assert "Hometonia" in stored
    for word in ("Roeberta", "Strangeville", "Doefield"):
        assert word not in shown and word not in stored and word.encode() not in file_bytes(gateway)
    places = rows(gateway, "SELECT guild_id, channel_id, question IS NULL FROM questions ORDER BY asked_at")
    assert places == [(GUILD_ID, CHANNEL_ID, 0), (SECOND_GUILD_ID, None, 1), (SECOND_GUILD_ID, None, 1),
                      (None, None, 1)]


async def test_a_private_question_leaves_none_of_its_words(gateway: Gateway) -> None:
    """A private question in the home server is counted, and no word of it, missing terms included, is in any
    table or in the database's files."""
    await gateway.command("ask", question=asking(gateway, "Quillfeather"), private=True)
    assert rows(gateway, "SELECT private, outcome, question, wording_id, missing FROM questions") == [
        (1, "not_answered", None, None, "[]")]
    assert "Quillfeather" not in everything_stored(gateway) and b"Quillfeather" not in file_bytes(gateway)
    gaps = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    assert "1 private question went unanswered too; their text is not kept." in unescaped(gaps)


async def test_mentions_emoji_and_links_are_stripped_before_storing(gateway: Gateway) -> None:
    """A question's user, role and channel mentions, custom emoji and links are not stored, nor shown in gaps."""
    plain = asking(gateway, "Kaftarzadeh")
    await gateway.command("ask", question=f"<@{MEMBER_ID + 10}> {plain} <@&{MOD_ROLE_ID}> <#{CHANNEL_ID}> "
                                          "<:wave:123456> https://example.org/jane.roe?home=12-elm-st <https://x.test>")
    assert rows(gateway, "SELECT question FROM questions") == [(" ".join(plain.split()),)]
    stored = everything_stored(gateway)
    assert not re.search(r"<[@#:]|https?:|example\.org|x\.test", stored)
    gaps = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    assert "example.org" not in unescaped(gaps) and "Kaftarzadeh" in unescaped(gaps)


async def test_deleting_a_message_deletes_its_row(gateway: Gateway) -> None:
    """Deleting a mention that asked, or /ask's answer, deletes the question's row and its wording; a bulk delete
    does too; other members' rows stay."""
    await gateway.command("ask", who=OTHER_MEMBER, question=asking(gateway, "Staysworth"))
    await gateway.say(f"<@{BOT_ID}> {asking(gateway, 'Mentionby', 1)}", mentions=[bot_mention()])
    mention = gateway.said
    answer = (await gateway.command("ask", question=asking(gateway, "Slashford", 2)))[-1]
    assert len(rows(gateway, "SELECT id FROM questions")) == 3
    await gateway.delete(mention)
    await gateway.delete(int(answer.response["id"]))
    bulk = []
    for name in ("Bulkley", "Bulkworth"):
        await gateway.say(f"<@{BOT_ID}> {asking(gateway, name, 3)}", mentions=[bot_mention()])
        bulk.append(gateway.said)
    await gateway.delete(*bulk)
    stored = everything_stored(gateway)
    assert "Staysworth" in stored and len(rows(gateway, "SELECT id FROM questions")) == 1
    for name in ("Mentionby", "Slashford", "Bulkley", "Bulkworth"):
        assert name not in stored
    assert len(rows(gateway, "SELECT id FROM wordings")) == 1


async def test_forget_removes_a_members_rows_in_that_server(gateway: Gateway,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """/dossier forget user:<member> deletes their questions and votes in this server (on SQLite, overwritten in
    the file); other members' rows, and the member's rows in another server, stay; the bot's log does not name
    them."""
    theirs = (await gateway.command("ask", question=answerable(gateway)))[-1]
    await gateway.command("ask", question=asking(gateway, "Forgetmenot", 1))
    other = (await gateway.command("ask", who=OTHER_MEMBER, question=answerable(gateway, 6)))[-1]
    await gateway.press(other, "Helpful")  # the asker votes on another's answer
    await gateway.press(theirs, "Helpful", who=OTHER_MEMBER)
    await gateway.command("ask", guild_id=SECOND_GUILD_ID, question=asking(gateway, "Elsewhere", 3))
    assert len(rows(gateway, "SELECT id FROM questions")) == 4
    with caplog.at_level(logging.INFO, logger="bot"):
        reply = await gateway.command("dossier forget", who=ADMIN, user=ASKER)
    assert [r.kind for r in reply] == ["defer", "followup"] and reply[1].message["flags"] & EPHEMERAL
    assert reply[1].message["content"] == ("Forgot Asker in this server: 2 questions and 1 vote deleted from the "
                                           "question log.")
    assert_safe(reply)
    left = rows(gateway, "SELECT guild_id FROM questions ORDER BY guild_id")
    assert left == [(GUILD_ID,), (SECOND_GUILD_ID,)]  # the other member's, and the asker's in the other server
    assert rows(gateway, "SELECT count(*) FROM votes") == [(0,)]  # theirs, and the one on their answer
    assert "Forgetmenot" not in everything_stored(gateway)
    if not backend(gateway).postgres:  # PostgreSQL frees a deleted row's space at VACUUM, and does not zero it
        with sqlite3.connect(gateway.bot.settings.database_path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert b"Forgetmenot" not in file_bytes(gateway)  # secure_delete: the deleted row's bytes are overwritten
    assert "had a member forgotten: 2 questions and 1 votes deleted" in caplog.text
    assert str(MEMBER_ID) not in caplog.text


async def test_one_member_in_two_servers_has_two_hashes_and_votes_once(gateway: Gateway) -> None:
    """One member's rows in two servers carry different hashes; in one server, a member votes once per answer."""
    answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
    await gateway.command("ask", guild_id=SECOND_GUILD_ID, question=answerable(gateway, 1))
    hashes = rows(gateway, "SELECT guild_id, user_hash FROM questions ORDER BY guild_id")
    assert [g for g, _ in hashes] == [GUILD_ID, SECOND_GUILD_ID] and hashes[0][1] != hashes[1][1]
    first = await gateway.press(answer, "Helpful", who=OTHER_MEMBER)
    again = await gateway.press(answer, "Helpful", who=OTHER_MEMBER)
    assert "is recorded" in first[-1].message["content"] and "already voted" in again[-1].message["content"]
    assert rows(gateway, "SELECT count(*) FROM votes") == [(1,)]


async def test_members_are_told_what_is_kept(tmp_path: Path, seeds_copy: Path) -> None:  # nothing stored: SQLite
    """/ask's description, the first public answer in each server and /privacy say what is kept, for how long and
    who sees it: the text in the home server, never elsewhere or in a DM."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, dev_guild_id=GUILD_ID, question_log_days=45)
    gateway.join(SECOND_GUILD_ID)
    try:
        synced = {c["name"]: c.get("description") for r in gateway.http.requests if r.url.endswith("/commands")
                  for c in r.body}
        private = (await gateway.command("ask", question=answerable(gateway), private=True))[-1]
        first = (await gateway.command("ask", question=answerable(gateway)))[-1]
        second = (await gateway.command("ask", question=answerable(gateway, 1)))[-1]
        elsewhere = (await gateway.command("ask", guild_id=SECOND_GUILD_ID, question=answerable(gateway)))[-1]
        told = {where: (await gateway.command("privacy", guild_id=where))[-1]
                for where in (GUILD_ID, SECOND_GUILD_ID, None)}
    finally:
        await gateway.close()
    assert synced["ask"] == ("Quote the corpus on Iran–Taliban ties. Questions kept 45 days for moderators: see "
                             "/privacy") and len(synced["ask"]) <= 100
    home_line = NOTICE_HOME.replace("90", "45")
    assert home_line not in unescaped(private) and home_line not in unescaped(second)
    assert first.message["content"].splitlines()[-1].startswith(f"-# {home_line}")
    assert f"-# {NOTICE_ELSEWHERE}" in elsewhere.message["content"] and "45 days" in elsewhere.message["content"]
    assert all(r.kind == "reply" and r.message["flags"] & EPHEMERAL for r in told.values())
    assert told[GUILD_ID].message["content"].startswith(home_line)
    assert "/dossier forget" in unescaped(told[GUILD_ID]) and "private:True" in unescaped(told[GUILD_ID])
    for where in (SECOND_GUILD_ID, None):
        assert NOTICE_ELSEWHERE in unescaped(told[where]) and "Never its text" in unescaped(told[where])
    assert_safe([private, first, second, elsewhere, *told.values()])


async def test_a_thousand_refused_questions_add_no_text(tmp_path: Path, seeds_copy: Path,
                                                       log_backend: LogBackend) -> None:
    """A flood of 1,000 questions refused by the cooldown is counted without a word of any of them and without a
    wording row, and answered with one "try again"."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, ask_cooldown_rate=1, ask_cooldown_seconds=3600,
                                       **log_backend.settings)
    gateway.backend = log_backend  # type: ignore[attr-defined]
    try:
        await gateway.command("ask", question=answerable(gateway))
        replies = []
        for n in range(1000):
            replies += await gateway.say(f"<@{BOT_ID}> Floodwater question number {n}?", mentions=[bot_mention()])
        slash = await gateway.command("ask", question="Floodwater by slash?")
        assert "try again in" in slash[0].message["content"]
        counted = rows(gateway, "SELECT outcome, count(*), count(question), count(wording_id) FROM questions "
                                "GROUP BY outcome ORDER BY outcome")
        assert counted == [("answered", 1, 1, 1), ("refused", 1001, 0, 0)]
        assert rows(gateway, "SELECT count(*) FROM wordings") == [(1,)]
        assert b"Floodwater" not in file_bytes(gateway)
        assert len(replies) == 1 and "try again in" in replies[0].message["content"]
    finally:
        await gateway.close()


async def test_a_writer_fault_leaves_votes_answered_and_later_writes_working(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An entry the writer cannot store, and a vote whose write raises, are logged with the error's type; the
    vote is answered either way, and questions and votes after them are written."""
    answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
    broken = Entry(id=row_key(), asked_at=0.0, guild_id=GUILD_ID, channel_id=CHANNEL_ID, user_id=MEMBER_ID,
                   via="slash", question="A question with a broken embedding", private=False, outcome="answered",
                   vector=np.array(["not", "numbers"]), model="m")
    with caplog.at_level(logging.WARNING, logger="bot"):
        gateway.bot.questions.record(broken)  # in the same batch as the vote, most likely
        voted = await asyncio.wait_for(gateway.press(answer, "Helpful"), 30)
        assert voted[-1].message["content"] == "Thanks: your vote (helpful) is recorded. The moderators see which " \
                                               "answers help."

        def fails(*_: object) -> None:
            raise RuntimeError("a bug in the vote")

        monkeypatch.setattr(bot.questionlog.questionlog, "_vote", fails)
        lost = await asyncio.wait_for(gateway.press(answer, "Not helpful"), 30)
        monkeypatch.undo()
    assert lost[-1].message["content"] == "Your vote could not be recorded just now; please try again later."
    assert "could not write the question" in caplog.text and "ValueError" in caplog.text
    assert "RuntimeError: a bug in the vote" in caplog.text
    later = (await gateway.command("ask", question=answerable(gateway, 6)))[-1]
    assert "is recorded" in (await asyncio.wait_for(gateway.press(later, "Helpful"), 30))[-1].message["content"]
    assert "Helpful" in labels(later)
    assert rows(gateway, "SELECT count(*) FROM questions") == [(2,)]
    assert rows(gateway, "SELECT helpful FROM votes") == [(1,), (1,)]


async def test_gaps_embeds_each_wording_once(gateway: Gateway) -> None:
    """Wordings logged without an embedding are embedded by the first /dossier gaps and kept: the next one embeds
    nothing and shows the same groups."""
    for n, name in enumerate(("Alphaville", "Betaburg", "Gammatown")):
        gateway.bot.questions.record(Entry(id=row_key(), asked_at=time.time(), guild_id=GUILD_ID,
                                           channel_id=CHANNEL_ID, user_id=MEMBER_ID, via="slash",
                                           question=asking(gateway, name, n), private=False, outcome="not_answered"))
    model = gateway.bot.searcher.embedder
    assert rows(gateway, "SELECT count(*) FROM wordings WHERE vector IS NULL") == [(3,)]
    before = model.inner.calls  # type: ignore[attr-defined]
    first = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    between = model.inner.calls  # type: ignore[attr-defined]
    second = (await gateway.command("dossier gaps", who=ADMIN))[-1]
    assert between - before == 3 and model.inner.calls == between  # type: ignore[attr-defined]
    assert first.message == second.message and "in 3 groups by meaning" in first.message["content"]
    assert rows(gateway, "SELECT count(*) FROM wordings WHERE vector IS NOT NULL AND model = ?", model.name) == [(3,)]


async def test_home_servers_do_not_read_each_others_members(tmp_path: Path, seeds_copy: Path,
                                                           log_backend: LogBackend) -> None:
    """With two home servers, /dossier gaps and stats in each show only the questions asked there (and the counts
    of those asked outside every home server), never the other home's; /privacy says exactly who sees what."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, moderator_guild_ids=[GUILD_ID, SECOND_GUILD_ID],
                                       **log_backend.settings)
    gateway.join(SECOND_GUILD_ID)
    try:
        await gateway.command("ask", question=asking(gateway, "Hometonia"))
        for nth, name in enumerate(("Roeberta", "Rivalburg"), 1):
            await gateway.command("ask", who=SECOND_OWNER, guild_id=SECOND_GUILD_ID,
                                  question=asking(gateway, name, nth))
        await gateway.command("ask", guild_id=None, question=asking(gateway, "Doefield", 3))
        shown = {where: [unescaped((await gateway.command(f"dossier {report}", who=who, guild_id=where))[-1])
                         for report in ("gaps", "stats")]
                 for where, who in ((GUILD_ID, ADMIN), (SECOND_GUILD_ID, SECOND_OWNER))}
        told = {where: unescaped((await gateway.command("privacy", guild_id=where))[-1])
                for where in (GUILD_ID, None)}
    finally:
        await gateway.close()
    (gaps, stats), (other_gaps, other_stats) = shown[GUILD_ID], shown[SECOND_GUILD_ID]
    assert "Hometonia" in gaps and "Roeberta" not in gaps and "Rivalburg" not in gaps
    assert "1 question went unanswered" in gaps and "1 question asked outside the home servers" in gaps
    assert "Roeberta" in other_gaps and "Rivalburg" in other_gaps and "Hometonia" not in other_gaps
    assert "2 questions went unanswered" in other_gaps
    questions = lambda text: re.search(r'"name": "Questions", "value": "(\d+)', text)  # noqa: E731
    assert (questions(stats)[1], questions(other_stats)[1]) == ("2", "3"), (stats, other_stats)  # type: ignore[index]
    assert "This server's moderators, and no other server's, see" in told[GUILD_ID]
    assert "The moderators of Dossier's home servers see only counts of questions asked here" in told[None]
