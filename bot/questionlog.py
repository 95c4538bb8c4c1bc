"""The question log: what members ask and how Dossier answered, in SQLite, for moderators' gaps and stats.

A row per question asked on Discord: when, the server and channel, the question (never for a private one), how
it went (`answered`, `not_answered`, `off_topic`, `refused`), the passages quoted, the key terms the corpus lacks,
the index generation, how long the answer took, and the embedding of its wording (to group questions by meaning;
never for a private one). Members' votes on answers are stored with their question. A member is stored only as
a keyed hash of their id: HMAC-SHA256 with a random key kept beside the database (DATABASE_PATH + ".key");
without the key a hash cannot be tied back to an id. Rows older than QUESTION_LOG_DAYS are deleted.

The database is in WAL mode, so reports read while the bot writes. Every write goes through one thread with its
own connection: the event loop only puts an entry on a queue, and a database error is logged, never raised to
the member who asked. The schema is versioned (`PRAGMA user_version`) and brought up to date by MIGRATIONS.
"""

import contextlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.settings import Settings
from index.embedding import Embedder

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "not_answered", "off_topic", "refused")
KEY_BYTES = 32
LOCK_WAIT_SECONDS = 2.0  # a write waits this long for a lock another connection holds, then gives up
QUEUE_LIMIT = 10_000  # entries waiting to be written; past this (a database stuck for minutes) they are dropped
WRITE_EVERY_SECONDS = 0.5  # how often the writer writes what is queued (a vote or a flush wakes it at once)
BATCH_LIMIT = 500  # entries written in one transaction
PURGE_EVERY_SECONDS = 3600.0
DAY_SECONDS = 86_400
READ_MAP_BYTES = 1 << 30
REMEMBERED = 256  # question embeddings kept for the log: the searches of the last moments

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE wordings (       -- each distinct wording once (see `wording`), with its embedding
        id INTEGER PRIMARY KEY,
        wording TEXT NOT NULL UNIQUE,
        model TEXT,               -- the model that embedded it, or NULL for none yet
        vector BLOB               -- int8, scaled to its largest component (see `vector_bytes`)
    );
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,   -- the Discord id of the interaction or message that asked
        asked_at REAL NOT NULL,   -- unix seconds
        guild_id INTEGER,
        channel_id INTEGER,
        user_hash TEXT NOT NULL,
        via TEXT NOT NULL,        -- slash or mention
        question TEXT,            -- NULL for a private question
        wording_id INTEGER REFERENCES wordings (id),  -- NULL for a private question
        private INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        missing TEXT NOT NULL,    -- JSON list of the question's key terms the corpus never mentions
        generation INTEGER,
        latency_ms REAL
    );
    CREATE INDEX questions_by_time ON questions (asked_at);
    CREATE INDEX questions_by_outcome ON questions (outcome, private, asked_at);
    CREATE INDEX questions_by_wording ON questions (wording_id);
    CREATE TABLE quoted (
        question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        chunk_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        PRIMARY KEY (question_id, rank)
    );
    CREATE TABLE votes (
        question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
        user_hash TEXT NOT NULL,
        helpful INTEGER NOT NULL,
        voted_at REAL NOT NULL,
        PRIMARY KEY (question_id, user_hash)
    );
    """,
)


class QuestionLogError(Exception):
    """The question log's database cannot be opened or written; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One question as it was asked and answered. A private one is stored without its text and embedding."""

    id: int
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


def wording(question: str) -> str:
    """What makes two questions one wording: case, spacing and end punctuation do not count."""
    return " ".join(question.casefold().split()).rstrip("?!.,;: ")


class RememberingEmbedder(Embedder):
    """The searcher's embedder, remembering the vectors of the last questions it embedded one at a time, so the
    log stores a question's meaning without embedding it again."""

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
                while len(self._recent) > REMEMBERED:
                    self._recent.popitem(last=False)
        return vectors

    def recall(self, text: str) -> np.ndarray | None:
        """The vector of `text` if it was embedded lately."""
        with self._lock:
            return self._recent.get(text)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with foreign keys on."""
    connection: sqlite3.Connection | None = None
    try:
        if read_only:
            if not path.exists():
                raise QuestionLogError(f"there is no question log at {path} yet: the bot writes it as members ask, "
                                       "and so does `python -m bot ask --log`")
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                         timeout=LOCK_WAIT_SECONDS, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None,
                                         check_same_thread=False)
        connection.execute("PRAGMA foreign_keys = ON")
        if read_only:  # reports read much of the file: map it, rather than copy it page by page
            connection.execute(f"PRAGMA mmap_size = {READ_MAP_BYTES}")
        else:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: durable but for the last commits
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except (sqlite3.Error, OSError) as error:
        if connection is not None:
            connection.close()
        raise QuestionLogError(f"cannot open the question log at {path}: {error}") from error
    if version > len(MIGRATIONS):
        connection.close()
        raise QuestionLogError(f"the question log at {path} was written by a newer Dossier (schema {version})")
    if read_only and version < len(MIGRATIONS):
        connection.close()
        raise QuestionLogError(f"the question log at {path} is not up to date; start the bot once to update it")
    return connection


def migrate(connection: sqlite3.Connection) -> None:
    """Applies the migrations the database has not had yet, each in one transaction with its version."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], version + 1):
        try:
            connection.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
        except sqlite3.Error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        log.info("question log: schema version %d", number)


def read_key(path: Path) -> bytes:
    """The hashing key beside the database, made (readable by its owner only) the first time.

    A new key is written whole to a file of its own, then linked into place, which fails if another process
    made one first: then that one is used, so bots sharing a database share its key.
    """
    if not path.exists():
        fd, made = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
            with contextlib.suppress(FileExistsError):
                os.link(made, path)
        finally:
            os.unlink(made)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise QuestionLogError(f"the key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES}); "
                               "move it and the database aside to start a new log")
    return key


def key_path(database: Path) -> Path:
    return database.with_name(database.name + ".key")


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


@dataclass
class _Op:
    """A unit of work for the writer thread; `done` carries its result to whoever waits for one. An op without
    `run` is a marker: it is done once everything queued before it is."""

    run: Callable[[sqlite3.Connection], Any] | None
    what: str
    done: Future[Any] | None = None


_STOP = _Op(None, "stop")


class QuestionLog:
    """Records questions and votes from any thread without waiting; one writer thread does the writing."""

    def __init__(self, path: Path | None, days: int, key: bytes = b"", off: str | None = None) -> None:
        self.path = path
        self.days = days
        self.off = off  # why the log is off, or None while it records
        self._key = key
        self._pending: deque[_Op] = deque()  # appended to by any thread, emptied by the writer
        self._wake = threading.Event()  # wakes the writer before WRITE_EVERY_SECONDS is up
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None
        self._next_purge = 0.0
        self._lock = threading.Lock()
        self._dropped = 0  # entries refused since the writer last caught up

    @classmethod
    def disabled(cls, reason: str) -> "QuestionLog":
        return cls(None, 0, off=reason)

    @classmethod
    def open(cls, path: Path, days: int) -> "QuestionLog":
        """Opens (or creates) the database, brings its schema up to date, and starts the writer thread."""
        connection = connect(path)
        try:
            migrate(connection)
            key = read_key(key_path(path))
        except (sqlite3.Error, OSError) as error:
            connection.close()
            raise QuestionLogError(f"cannot open the question log at {path}: {error}") from error
        except QuestionLogError:
            connection.close()
            raise
        opened = cls(path, days, key)
        opened._connection = connection
        opened._thread = threading.Thread(target=opened._write_forever, name="question-log", daemon=True)
        opened._thread.start()
        return opened

    @property
    def enabled(self) -> bool:
        return self.off is None

    def user_hash(self, user_id: int) -> str:
        return hmac.new(self._key, str(user_id).encode(), "sha256").hexdigest()[:32]

    def record(self, entry: Entry) -> None:
        """Queues the entry for the writer's next round; never waits, never raises, and wakes no thread."""
        if self.enabled:
            self._put(_Op(lambda connection: self._insert(connection, entry), f"question {entry.id}"))

    def vote(self, question_id: int, user_id: int, helpful: bool) -> "Future[bool | None]":
        """Records a member's vote, replacing their earlier one; resolves to that earlier vote (None: first)."""
        done: Future[bool | None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id)
        self._put(_Op(lambda connection: _vote(connection, question_id, user, helpful), f"vote on {question_id}",
                      done), urgent=True)
        return done

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until everything queued so far has been written (or has failed). Not for the event loop."""
        if self.enabled:
            done: Future[None] = Future()
            self._pending.append(_Op(None, "flush", done))  # past QUEUE_LIMIT too: a flush is never dropped
            self._wake.set()
            done.result(timeout=timeout)

    def close(self) -> None:
        """Writes what is queued, stops the writer thread and closes the database."""
        if self._thread is None:
            return
        self.off = "closed"
        self._pending.append(_STOP)
        self._wake.set()
        self._thread.join()
        self._thread = None
        if self._connection is not None:
            self._connection.close()

    def _put(self, op: _Op, urgent: bool = False) -> None:
        """Queues an op, or drops it when QUEUE_LIMIT are waiting; `urgent` wakes the writer (someone waits)."""
        if len(self._pending) < QUEUE_LIMIT:
            self._pending.append(op)
            if urgent:
                self._wake.set()
            return
        with self._lock:
            self._dropped += 1
            first = self._dropped == 1
        if first:
            log.error("question log: %d writes are waiting (the database is slow or stuck); new entries are "
                      "dropped until it catches up", QUEUE_LIMIT)
        if op.done is not None:
            _settle(op.done, QuestionLogError("the question log is behind"))

    def _report_dropped(self) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.error("question log: dropped %d entries while %d writes were waiting", dropped, QUEUE_LIMIT)

    def _insert(self, connection: sqlite3.Connection, entry: Entry) -> None:
        text, wording_id = (None, None) if entry.private else (entry.question, _wording_id(connection, entry))
        connection.execute(
            "INSERT INTO questions (id, asked_at, guild_id, channel_id, user_hash, via, question, wording_id, "
            "private, outcome, missing, generation, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.id, entry.asked_at, entry.guild_id, entry.channel_id, self.user_hash(entry.user_id), entry.via,
             text, wording_id, int(entry.private), entry.outcome, json.dumps(list(entry.missing)),
             entry.generation, entry.latency_ms))
        connection.executemany("INSERT INTO quoted (question_id, rank, chunk_id, source_id) VALUES (?, ?, ?, ?)",
                               [(entry.id, rank, chunk, source) for rank, (chunk, source) in
                                enumerate(entry.quoted, 1)])

    def _write_forever(self) -> None:
        """Every WRITE_EVERY_SECONDS, or when woken, writes what is queued, in batches of a transaction each.

        Waking on a timer rather than on each entry writes many questions in one transaction, and keeps the
        writer from taking the interpreter from the event loop on every question."""
        assert self._connection is not None
        connection = self._connection
        self._purge_if_due(connection)
        while True:
            if not self._pending:
                self._wake.wait(WRITE_EVERY_SECONDS)
            self._wake.clear()
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH_LIMIT))]
            work = [op for op in batch if op.run is not None]
            if work:
                self._write(connection, work)
            for marker in batch:
                if marker.run is None and marker.done is not None:
                    _settle(marker.done, None)
            self._report_dropped()
            self._purge_if_due(connection)
            if _STOP in batch:
                return

    def _write(self, connection: sqlite3.Connection, batch: list[_Op]) -> None:
        """Writes the batch in one transaction. When one op breaks a constraint (a vote on a question that was
        never recorded), each op is tried on its own, so that op alone is lost; any other error loses the batch."""
        try:
            with transaction(connection):
                results = [op.run(connection) for op in batch if op.run is not None]
        except sqlite3.Error as error:
            if isinstance(error, sqlite3.IntegrityError) and len(batch) > 1:
                for op in batch:
                    self._write(connection, [op])
                return
            what = f"the {batch[0].what}" if len(batch) == 1 else f"{len(batch)} entries"
            log.error("question log: could not write %s: %s", what, error)
            for op in batch:
                if op.done is not None:
                    _settle(op.done, QuestionLogError(str(error)))
            return
        for op, result in zip(batch, results, strict=True):
            if op.done is not None:
                _settle(op.done, result)

    def _purge_if_due(self, connection: sqlite3.Connection) -> None:
        now = time.time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        try:
            with transaction(connection):
                deleted = connection.execute("DELETE FROM questions WHERE asked_at < ?",
                                             (now - self.days * DAY_SECONDS,)).rowcount
                connection.execute("DELETE FROM wordings WHERE id NOT IN "
                                   "(SELECT wording_id FROM questions WHERE wording_id IS NOT NULL)")
        except sqlite3.Error as error:
            log.error("question log: could not delete rows older than %d days: %s", self.days, error)
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


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _wording_id(connection: sqlite3.Connection, entry: Entry) -> int:
    """The id of the entry's wording, added if new; its embedding stored unless one from that model is."""
    compared = wording(entry.question)
    if entry.vector is not None and entry.model:
        connection.execute("INSERT INTO wordings (wording, model, vector) VALUES (?, ?, ?) ON CONFLICT (wording) "
                           "DO UPDATE SET model = excluded.model, vector = excluded.vector "
                           "WHERE model IS NOT excluded.model", (compared, entry.model, vector_bytes(entry.vector)))
    else:
        connection.execute("INSERT INTO wordings (wording) VALUES (?) ON CONFLICT (wording) DO NOTHING", (compared,))
    found: int = connection.execute("SELECT id FROM wordings WHERE wording = ?", (compared,)).fetchone()[0]
    return found


def _vote(connection: sqlite3.Connection, question_id: int, user_hash: str, helpful: bool) -> bool | None:
    row = connection.execute("SELECT helpful FROM votes WHERE question_id = ? AND user_hash = ?",
                             (question_id, user_hash)).fetchone()
    connection.execute(
        "INSERT INTO votes (question_id, user_hash, helpful, voted_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (question_id, user_hash) DO UPDATE SET helpful = excluded.helpful, voted_at = excluded.voted_at",
        (question_id, user_hash, int(helpful), time.time()))
    return None if row is None else bool(row[0])


def open_question_log(settings: Settings) -> QuestionLog:
    """The log as the settings ask for it: off with QUESTION_LOG=false, and off (the error logged) when its
    database cannot be opened, for the bot must answer all the same."""
    if not settings.question_log:
        return QuestionLog.disabled("QUESTION_LOG is false")
    path, days = settings.database_path, settings.question_log_days
    try:
        opened = QuestionLog.open(path, days)
    except QuestionLogError as error:
        log.error("the question log is off: %s", error)
        return QuestionLog.disabled(str(error))
    log.info("question log: %s, rows kept %d days", path, days)
    return opened
