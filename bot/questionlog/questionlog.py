"""The question log: what members ask and how Dossier answered, for moderators' gaps and stats. In SQLite at
DATABASE_PATH by default, or in PostgreSQL at DATABASE_URL for bot processes on several hosts
(bot/questionlog/database.py); the guarantees below hold on both.

A row per question asked on Discord: when, the server (and, in a home server, the channel), how it went
(`answered`, `not_answered`, `off_topic`, `refused`), the passages quoted, the index generation and how long the
answer took. Words are kept only where members were told they are (see bot/questionlog/privacy.py): the question's
text, the key terms the corpus lacks and the embedding of its wording (to group questions by meaning) only for a
question asked in a home server, not private and not refused, and only once mentions, emoji and links are taken out.

A row's key is random, never a Discord id. A member is stored only as a keyed hash of their id, scoped to the
server (one member's rows in two servers do not match), and the message that asked or answered as a keyed hash of
its id, so deleting it deletes the row (bot/questionlog/keys.py says where the key is kept). Rows older than
QUESTION_LOG_DAYS are deleted (bot/questionlog/retention.py).

Every write goes through one thread with its own connection (bot/questionlog/writer.py): recording never waits
and never raises to the member who asked.
"""

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Collection
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from bot.questionlog.database import Database, Location, LogDatabaseError, QuestionLogError
from bot.questionlog.entry import TERMINAL, Entry
from bot.questionlog.keys import member_hash, message_hash, scoped_hash
from bot.questionlog.privacy import scrub
from bot.questionlog.retention import delete_questions, forget_member, keep_words_at_home
from bot.questionlog.schema import open_migrated, row_key, wording_id
from bot.questionlog.vectors import store_vectors, vector_bytes
from bot.questionlog.writer import LogWriter, Op
from bot.settings import Settings

log = logging.getLogger(__name__)

DELETES_REMEMBERED = 1024  # deleted messages whose entry, still queued, must not be written after all


class QuestionLog(LogWriter):
    """Records questions and votes from any thread without waiting; one writer thread does the writing."""

    def __init__(self, where: Location | None, days: int, key: bytes = b"", off: str | None = None,
                 homes: Collection[int] = ()) -> None:
        super().__init__(where, days, key, off)
        self.homes = frozenset(homes)  # the servers whose questions may be stored with their words
        self._deleted: OrderedDict[str, None] = OrderedDict()  # message hashes deleted lately (writer thread only)

    @classmethod
    def disabled(cls, reason: str) -> "QuestionLog":
        return cls(None, 0, off=reason)

    @classmethod
    def open(cls, where: Location | Path, days: int, homes: Collection[int] = ()) -> "QuestionLog":
        """Opens (or creates) the database, brings its schema up to date, checks the key, drops the words no home
        server may keep, and starts the writer thread."""
        where = where if isinstance(where, Location) else Location(path=where)
        database, key, _ = open_migrated(where)
        try:
            keep_words_at_home(database, homes)
        except BaseException as error:
            database.close()
            if isinstance(error, LogDatabaseError):
                raise QuestionLogError(f"cannot open the question log at {where}: {error}") from error
            raise
        opened = cls(where, days, key, homes=homes)
        opened._start(database)
        return opened

    def user_hash(self, user_id: int, guild_id: int | None) -> str:
        """The member as the log knows them in one server (None: DMs)."""
        return scoped_hash(self._key, guild_id, member_hash(self._key, user_id))

    def record(self, entry: Entry) -> None:
        """Queues the entry for the writer's next round; never waits, never raises, and wakes no thread."""
        if self.enabled:
            self._put(Op(lambda database: self._insert(database, entry), f"question {entry.id}"))

    def vote(self, question_id: int, user_id: int, guild_id: int | None, helpful: bool) -> "Future[bool | None]":
        """Records a member's vote, replacing their earlier one; resolves to that earlier vote (None: first)."""
        done: Future[bool | None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(Op(lambda database: _vote(database, question_id, user, helpful), f"vote on {question_id}",
                     done), urgent=True)
        return done

    def forget_message(self, message_id: int) -> None:
        """Deletes the row of the question that message asked or answered, if any (queued, like a record)."""
        if self.enabled:
            hashed = message_hash(self._key, message_id)
            self._put(Op(lambda database: self._delete_message(database, hashed), "a deleted message's row"))

    def forget_member(self, guild_id: int, user_id: int) -> "Future[tuple[int, int]]":
        """Deletes a member's questions and votes in one server; resolves to how many of each went."""
        done: Future[tuple[int, int]] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(Op(lambda database: forget_member(database, guild_id, user), "forgetting a member", done),
                  urgent=True)
        return done

    def remember_vectors(self, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
        """Keeps embeddings that gaps computed for wordings logged without one (queued, like a record)."""
        if self.enabled and vectors:
            self._put(Op(lambda database: store_vectors(database, model, vectors), "wording embeddings"))

    def probe(self) -> "Future[None]":
        """Writes to the database through the writer, as a record would be written; resolves once it is written,
        or to the error that kept it from being written. For health checks."""
        done: Future[None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        self._put(Op(_touch, "a health check", done), urgent=True)
        return done

    def _insert(self, database: Database, entry: Entry) -> None:
        """Writes the entry, with its words only where members were told they are kept (see
        bot/questionlog/privacy.py)."""
        hashed = None if entry.message_id is None else message_hash(self._key, entry.message_id)
        if hashed is not None and hashed in self._deleted:
            return  # its message was deleted before the entry was written
        home = entry.guild_id in self.homes or entry.via == TERMINAL
        text = scrub(entry.question) if home and not entry.private and entry.outcome != "refused" else ""
        wording = _wording_id(database, text, entry) if text else None
        missing = [term for term in map(scrub, entry.missing) if term] if text else []
        database.execute(
            "INSERT INTO questions (id, asked_at, guild_id, channel_id, user_hash, message_hash, via, question, "
            "wording_id, private, outcome, missing, generation, latency_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.id, entry.asked_at, entry.guild_id, entry.channel_id if home else None,
             self.user_hash(entry.user_id, entry.guild_id), hashed, entry.via, text or None, wording,
             int(entry.private), entry.outcome, json.dumps(missing), entry.generation, entry.latency_ms))
        database.executemany("INSERT INTO quoted (question_id, rank, chunk_id, source_id) VALUES (?, ?, ?, ?)",
                             [(entry.id, rank, chunk, source) for rank, (chunk, source) in enumerate(entry.quoted, 1)])

    def _delete_message(self, database: Database, hashed: str) -> None:
        self._deleted[hashed] = None
        while len(self._deleted) > DELETES_REMEMBERED:
            self._deleted.popitem(last=False)
        delete_questions(database, "message_hash = ?", (hashed,))


def _wording_id(database: Database, text: str, entry: Entry) -> int:
    """The id of the wording of `text`, added if new; its embedding stored unless one from that model is.

    No upsert that updates: that would lock a wording another process's transaction may be locking too, in the
    other order. The update below locks the row only when it changes it, once per wording and model."""
    found = wording_id(database, text)
    if entry.vector is not None and entry.model:
        database.execute("UPDATE wordings SET model = ?, vector = ? WHERE id = ? AND (model IS NULL OR model != ?)",
                         (entry.model, vector_bytes(entry.vector), found, entry.model))
    return found


def _vote(database: Database, question_id: int, user_hash: str, helpful: bool) -> bool | None:
    row = database.fetchone("SELECT helpful FROM votes WHERE question_id = ? AND user_hash = ?",
                            (question_id, user_hash))
    database.execute(
        "INSERT INTO votes (question_id, user_hash, helpful, voted_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (question_id, user_hash) DO UPDATE SET helpful = excluded.helpful, voted_at = excluded.voted_at",
        (question_id, user_hash, int(helpful), time.time()))
    return None if row is None else bool(row[0])


def _touch(database: Database) -> None:
    """A write that no other process's write can wait on: a row of its own, added and deleted."""
    probe = f"probe {row_key()}"
    database.execute("INSERT INTO log_meta (name, value) VALUES (?, ?)", (probe, str(time.time())))
    database.execute("DELETE FROM log_meta WHERE name = ?", (probe,))


def open_question_log(settings: Settings) -> QuestionLog:
    """The log as the settings ask for it: off with QUESTION_LOG=false, and off (the error logged) when its
    database cannot be opened, for the bot must answer all the same."""
    if not settings.question_log:
        return QuestionLog.disabled("QUESTION_LOG is false")
    where, days = Location.of(settings), settings.question_log_days
    try:
        opened = QuestionLog.open(where, days, homes=settings.moderator_guild_ids)
    except QuestionLogError as error:
        log.error("the question log is off: %s", error)
        return QuestionLog.disabled(str(error))
    log.info("question log: %s, rows kept %d days, words kept for the home servers %s", where, days,
             sorted(settings.moderator_guild_ids) or "(none: MODERATOR_GUILD_IDS is not set)")
    return opened
