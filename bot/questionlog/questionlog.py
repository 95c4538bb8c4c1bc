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
QUESTION_LOG_DAYS are deleted.

Every write goes through one thread with its own connection: the event loop only puts an entry on a queue, and a
database error (or any other) is logged, never raised to the member who asked. When a database server cannot be
reached, entries wait in memory (up to QUEUE_LIMIT) and the thread reconnects; what cannot wait is dropped and
counted (`lost`), and a vote or a forget waiting for an answer is told at once that it failed.
"""

import contextlib
import json
import logging
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.questionlog.database import (
    Database,
    Location,
    LogDatabaseError,
    LogUnavailable,
    QuestionLogError,
)
from bot.questionlog.keys import key_path, member_hash, message_hash, scoped_hash
from bot.questionlog.privacy import scrub
from bot.questionlog.schema import open_migrated, row_key, wording, wording_id
from bot.settings import Settings
from index.model.embedding import Embedder

log = logging.getLogger(__name__)

__all__ = ["DAY_SECONDS", "Entry", "QuestionLog", "QuestionLogError", "VectorKeepingEmbedder", "key_path",
           "open_question_log", "row_key", "wording"]

OUTCOMES = ("answered", "not_answered", "off_topic", "refused")
QUEUE_LIMIT = 10_000  # entries waiting to be written; past this (a database stuck for minutes) they are dropped
WRITE_EVERY_SECONDS = 0.5  # how often the writer writes what is queued (a vote or a flush wakes it at once)
BATCH_LIMIT = 500  # entries written in one transaction
TRANSACTION_TRIES = 5  # a transaction that lost a deadlock to another process is run again, this many times in all
RECONNECT_SECONDS = (0.25, 5.0)  # the first wait before reconnecting to a server, and the longest
PURGE_EVERY_SECONDS = 3600.0
DAY_SECONDS = 86_400
KEPT_VECTORS = 256  # question embeddings kept for the log: the searches of the last moments
DELETES_REMEMBERED = 1024  # deleted messages whose entry, still queued, must not be written after all

TERMINAL = "terminal"  # `bot ask --log`: the operator's own questions, kept with their words like a home server's


@dataclass(frozen=True)
class Entry:
    """One question as it was asked and answered. What of it is stored is decided by the log (`_insert`)."""

    id: int  # the row's key, from `row_key`
    asked_at: float
    guild_id: int | None
    channel_id: int | None
    user_id: int
    via: str
    question: str
    private: bool
    outcome: str
    quoted: tuple[tuple[str, str], ...] = ()  # (chunk id, source id) of each passage shown, in order
    missing: tuple[str, ...] = ()
    generation: int | None = None
    latency_ms: float | None = None
    vector: np.ndarray | None = None
    model: str | None = None
    message_id: int | None = None  # the mention that asked, or the message that answered /ask


class VectorKeepingEmbedder(Embedder):
    """The searcher's embedder, keeping the vectors of the last questions it embedded one at a time (`recall`), so
    the log stores a question's meaning without embedding it again."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def recipe(self) -> Callable[[], Embedder]:
        return self.inner.recipe()

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.inner.encode(texts)
        if len(texts) == 1:
            with self._lock:
                self._recent[texts[0]] = vectors[0]
                self._recent.move_to_end(texts[0])
                while len(self._recent) > KEPT_VECTORS:
                    self._recent.popitem(last=False)
        return vectors

    def recall(self, text: str) -> np.ndarray | None:
        """The vector of `text` if it was embedded lately."""
        with self._lock:
            return self._recent.get(text)


def vector_bytes(vector: np.ndarray) -> bytes:
    """An embedding in one byte a number, scaled so its largest component is ±127. Only its direction is kept,
    which is all a cosine needs, to within about 0.005: plenty to group questions by meaning."""
    values = np.asarray(vector, dtype=np.float32)
    largest = float(np.abs(values).max()) or 1.0
    return np.round(values / largest * 127).astype(np.int8).tobytes()


def vectors_from(blob: bytes, count: int) -> np.ndarray:
    """`count` embeddings stored by `vector_bytes`, one after another, as unit vectors."""
    vectors = np.frombuffer(blob, dtype=np.int8).reshape(count, -1).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def store_vectors(database: Database, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings of wordings (by id) that gaps had to compute, so it never computes them again."""
    database.executemany("UPDATE wordings SET model = ?, vector = ? WHERE id = ?",
                         [(model, vector_bytes(vector), int(wording_id)) for wording_id, vector in vectors])


def keep_words_at_home(database: Database, homes: Collection[int]) -> None:
    """Drops the words (text, missing terms, wording) and channel of every row not asked in a home server (or at
    the operator's own terminal): a server taken out of MODERATOR_GUILD_IDS takes its questions' text with it."""
    homes = sorted(homes)
    elsewhere = f"via != '{TERMINAL}'"
    if homes:
        elsewhere += f" AND (guild_id IS NULL OR guild_id NOT IN ({', '.join('?' * len(homes))}))"
    with database.transaction():
        database.execute("UPDATE questions SET question = NULL, wording_id = NULL, missing = '[]' "
                         f"WHERE (question IS NOT NULL OR wording_id IS NOT NULL OR missing != '[]') AND {elsewhere}",
                         homes)
        database.execute(f"UPDATE questions SET channel_id = NULL WHERE channel_id IS NOT NULL AND {elsewhere}", homes)
        _drop_unused_wordings(database)


def _drop_unused_wordings(database: Database) -> None:
    database.execute("DELETE FROM wordings WHERE id NOT IN "
                     "(SELECT wording_id FROM questions WHERE wording_id IS NOT NULL)")


@dataclass
class _Op:
    """A unit of work for the writer thread; `done` carries its result to whoever waits for one. An op without
    `run` is a marker: it is done once everything queued before it is."""

    run: Callable[[Database], Any] | None
    what: str
    done: Future[Any] | None = None


_STOP = _Op(None, "stop")


class QuestionLog:
    """Records questions and votes from any thread without waiting; one writer thread does the writing."""

    def __init__(self, where: Location | None, days: int, key: bytes = b"", off: str | None = None,
                 homes: Collection[int] = ()) -> None:
        self.where = where
        self.days = days
        self.off = off  # why the log is off, or None while it records
        self.homes = frozenset(homes)  # the servers whose questions may be stored with their words
        self.lost = 0  # entries never written since the log opened (dropped or failed), that nobody was told of
        self._key = key
        self._pending: deque[_Op] = deque()  # appended to by any thread, emptied by the writer
        self._wake = threading.Event()  # wakes the writer before WRITE_EVERY_SECONDS is up
        self._thread: threading.Thread | None = None
        self._database: Database | None = None  # the writer's connection; None while a server cannot be reached
        self._down_since = 0.0
        self._retry_at = 0.0
        self._next_purge = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._dropped = 0  # entries refused since the writer last caught up
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
        opened._database = database
        opened._thread = threading.Thread(target=opened._write_forever, name="question-log", daemon=True)
        opened._thread.start()
        return opened

    @property
    def enabled(self) -> bool:
        return self.off is None

    @property
    def reachable(self) -> bool:
        """Whether the writer holds a connection (False while a database server cannot be reached)."""
        return self._database is not None

    def user_hash(self, user_id: int, guild_id: int | None) -> str:
        """The member as the log knows them in one server (None: DMs)."""
        return scoped_hash(self._key, guild_id, member_hash(self._key, user_id))

    def record(self, entry: Entry) -> None:
        """Queues the entry for the writer's next round; never waits, never raises, and wakes no thread."""
        if self.enabled:
            self._put(_Op(lambda database: self._insert(database, entry), f"question {entry.id}"))

    def vote(self, question_id: int, user_id: int, guild_id: int | None, helpful: bool) -> "Future[bool | None]":
        """Records a member's vote, replacing their earlier one; resolves to that earlier vote (None: first)."""
        done: Future[bool | None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(_Op(lambda database: _vote(database, question_id, user, helpful), f"vote on {question_id}",
                      done), urgent=True)
        return done

    def forget_message(self, message_id: int) -> None:
        """Deletes the row of the question that message asked or answered, if any (queued, like a record)."""
        if self.enabled:
            hashed = message_hash(self._key, message_id)
            self._put(_Op(lambda database: self._delete_message(database, hashed), "a deleted message's row"))

    def forget_member(self, guild_id: int, user_id: int) -> "Future[tuple[int, int]]":
        """Deletes a member's questions and votes in one server; resolves to how many of each went."""
        done: Future[tuple[int, int]] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(_Op(lambda database: _forget_member(database, guild_id, user), "forgetting a member", done),
                  urgent=True)
        return done

    def remember_vectors(self, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
        """Keeps embeddings that gaps computed for wordings logged without one (queued, like a record)."""
        if self.enabled and vectors:
            self._put(_Op(lambda database: store_vectors(database, model, vectors), "wording embeddings"))

    def probe(self) -> "Future[None]":
        """Writes to the database through the writer, as a record would be written; resolves once it is written,
        or to the error that kept it from being written. For health checks."""
        done: Future[None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        self._put(_Op(_touch, "a health check", done), urgent=True)
        return done

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until everything queued so far has been written (or has failed, or waits for a server that cannot
        be reached). Not for the event loop."""
        if self.enabled:
            done: Future[None] = Future()
            self._pending.append(_Op(None, "flush", done))  # past QUEUE_LIMIT too: a flush is never dropped
            self._wake.set()
            done.result(timeout=timeout)

    def close(self) -> None:
        """Writes what is queued, stops the writer thread and closes the database. From any thread, any number of
        times."""
        with self._closing:
            if self._thread is None:
                return
            self.off = "closed"
            self._pending.append(_STOP)
            self._wake.set()
            self._thread.join()
            self._thread = None
            if self._database is not None:
                self._database.close()
                self._database = None

    def _put(self, op: _Op, urgent: bool = False) -> None:
        """Queues an op, or drops it when QUEUE_LIMIT are waiting; `urgent` wakes the writer (someone waits)."""
        if len(self._pending) < QUEUE_LIMIT:
            self._pending.append(op)
            if urgent:
                self._wake.set()
            return
        with self._lock:
            self._dropped += 1
            self.lost += op.done is None  # whoever waits for the op is told below
            first = self._dropped == 1
        if first:
            log.error("question log: %d writes are waiting (the database is slow, stuck or cannot be reached); new "
                      "entries are dropped until it catches up", QUEUE_LIMIT)
        if op.done is not None:
            _settle(op.done, QuestionLogError("the question log is behind"))

    def _report_dropped(self) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.error("question log: dropped %d entries while %d writes were waiting (%d lost since it opened)",
                      dropped, QUEUE_LIMIT, self.lost)

    def _lose(self, count: int) -> None:
        with self._lock:
            self.lost += count

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
        _delete_questions(database, "message_hash = ?", (hashed,))

    def _write_forever(self) -> None:
        """Every WRITE_EVERY_SECONDS, or when woken, writes what is queued, in batches of a transaction each.

        Waking on a timer rather than on each entry writes many questions in one transaction, and keeps the
        writer from taking the interpreter from the event loop on every question. Whatever goes wrong in a round,
        the thread goes on, and whoever waited for the round is answered."""
        while True:
            batch: list[_Op] = []
            try:
                self._wait()
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH_LIMIT))]
                database = self._connected(last=_STOP in batch)
                if database is None:
                    self._hold(batch)
                else:
                    self._purge_if_due(database)
                    work = [op for op in batch if op.run is not None]
                    if work:
                        self._write(database, work)
                self._report_dropped()
            except Exception as error:
                log.exception("question log: the writer failed (%s); it goes on", type(error).__name__)
                for op in batch:
                    if op.run is not None and op.done is not None:
                        _settle(op.done, QuestionLogError(f"the question log failed ({type(error).__name__})"))
            for marker in batch:
                if marker.run is None and marker.done is not None:
                    _settle(marker.done, None)
            if _STOP in batch:
                return

    def _wait(self) -> None:
        """Until there is something to write (or WRITE_EVERY_SECONDS pass); while the server cannot be reached,
        until it is time to try it again, or someone waits for an answer (which is then told it failed)."""
        if self._database is None:
            self._wake.wait(max(0.0, self._retry_at - time.monotonic()))
        elif not self._pending:
            self._wake.wait(WRITE_EVERY_SECONDS)
        self._wake.clear()

    def _connected(self, last: bool = False) -> Database | None:
        """The writer's connection, made again once the server is back; None while it cannot be reached (`last`:
        the log is closing, so it is tried once more whenever it was last tried). A SQLite file deleted or replaced
        while the log writes is made again at its path, where reports read, rather than written on unseen."""
        if self._database is not None and self._database.replaced():
            log.warning("question log: %s was deleted or replaced while the bot ran; writing to a new one there",
                        self.where)
            self._database.close()
            self._database, self._retry_at = None, 0.0
        if self._database is not None:
            return self._database
        assert self.where is not None
        if time.monotonic() < self._retry_at and not last:
            return None
        try:
            self._database, self._key, _ = open_migrated(self.where)
        except QuestionLogError as error:
            waited = time.monotonic() - self._down_since
            self._retry_at = time.monotonic() + min(RECONNECT_SECONDS[1], max(RECONNECT_SECONDS[0], waited / 2))
            log.debug("question log: still cannot reach %s: %s", self.where, error)
            return None
        log.warning("question log: %s can be reached again after %.1f s; what waited for it is written now",
                    self.where, time.monotonic() - self._down_since)
        return self._database

    def _disconnected(self, error: LogDatabaseError) -> None:
        assert self._database is not None
        with contextlib.suppress(Exception):
            self._database.close()
        self._database = None
        self._down_since = time.monotonic()
        self._retry_at = self._down_since + RECONNECT_SECONDS[0]
        log.error("question log: lost the connection to %s (%s); entries wait in memory (up to %d) until it is back",
                  self.where, error, QUEUE_LIMIT)

    def _hold(self, batch: list[_Op]) -> None:
        """While the server cannot be reached: entries go back to the front of the queue, and whoever waits for
        an answer is told it failed. When the log is closing they are lost, and counted."""
        records = [op for op in batch if op.run is not None and op.done is None]
        for op in batch:
            if op.run is not None and op.done is not None:
                _settle(op.done, LogUnavailable(f"the question log's database at {self.where} cannot be reached"))
        if _STOP in batch:
            lost = len(records) + sum(op.run is not None for op in self._pending)
            self._pending.clear()
            if lost:
                self._lose(lost)
                log.error("question log: %d entries were not written: %s could not be reached when the bot stopped",
                          lost, self.where)
            return
        self._pending.extendleft(reversed(records))

    def _write(self, database: Database, batch: list[_Op]) -> None:
        """Writes the batch in one transaction. When one op fails on its own (a vote on a question that was never
        recorded, an entry the code cannot store), each op is tried alone, so that op alone is lost; a database
        that cannot be written (locked, full) loses the batch; a server that cannot be reached loses nothing yet
        (the batch waits for it)."""
        try:
            results = self._run(database, batch)
        except Exception as error:
            if isinstance(error, LogDatabaseError) and error.unreachable:
                self._disconnected(error)
                self._hold(batch)
                return
            whole_database = isinstance(error, LogDatabaseError) and not error.conflict
            if len(batch) > 1 and not whole_database:
                for n, op in enumerate(batch):
                    if self._database is not database:  # the connection went while trying them one by one
                        self._hold(batch[n:])
                        return
                    self._write(database, [op])
                return
            self._lose(sum(op.done is None for op in batch))
            what = f"the {batch[0].what}" if len(batch) == 1 else f"{len(batch)} entries"
            if isinstance(error, LogDatabaseError):
                log.error("question log: could not write %s: %s", what, error)
            else:  # a bug: the traceback tells where
                log.error("question log: could not write %s: %s: %s", what, type(error).__name__, error,
                          exc_info=error)
            for op in batch:
                if op.done is not None:
                    _settle(op.done, QuestionLogError(f"{type(error).__name__}: {error}"))
            return
        for op, result in zip(batch, results, strict=True):
            if op.done is not None:
                _settle(op.done, result)

    @staticmethod
    def _run(database: Database, batch: list[_Op]) -> list[Any]:
        """The batch's results, from one transaction; one that lost a deadlock to another process is run again."""
        tries = 0
        while True:
            tries += 1
            try:
                with database.transaction():
                    return [op.run(database) for op in batch if op.run is not None]
            except LogDatabaseError as error:
                if not error.retry or tries == TRANSACTION_TRIES:
                    raise
                time.sleep(random.uniform(0, 0.05 * tries))  # the other process's transaction goes first

    def _purge_if_due(self, database: Database) -> None:
        now = time.time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        try:
            with database.transaction():
                deleted = database.execute("DELETE FROM questions WHERE asked_at < ?", (now - self.days * DAY_SECONDS,))
                _drop_unused_wordings(database)
        except LogDatabaseError as error:
            log.error("question log: could not delete rows older than %d days: %s", self.days, error)
            if error.unreachable:
                self._disconnected(error)
            return
        if deleted:
            log.info("question log: deleted %d questions older than %d days", deleted, self.days)


def _settle(done: Future[Any], outcome: Any) -> None:
    """Resolves a future with a result or an exception, unless whoever waited for it gave up (cancelled it)."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)


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


def _delete_questions(database: Database, where: str, args: Sequence[Any]) -> int:
    """Deletes the questions matching `where` (their passages and votes go with them), and their wordings if no
    other question uses them; returns how many questions went."""
    wordings = [row[0] for row in database.fetchall(
        f"SELECT DISTINCT wording_id FROM questions WHERE wording_id IS NOT NULL AND {where}", args)]
    deleted = database.execute(f"DELETE FROM questions WHERE {where}", args)
    database.executemany("DELETE FROM wordings WHERE id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM questions WHERE wording_id = ?)", [(w, w) for w in wordings])
    return deleted


def _forget_member(database: Database, guild_id: int, user_hash: str) -> tuple[int, int]:
    questions = _delete_questions(database, "guild_id = ? AND user_hash = ?", (guild_id, user_hash))
    votes = database.execute("DELETE FROM votes WHERE user_hash = ?", (user_hash,))
    return questions, votes


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
