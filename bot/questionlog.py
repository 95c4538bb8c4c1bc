"""The question log: what members ask and how Dossier answered, in SQLite, for moderators' gaps and stats.

A row per question asked on Discord: when, the server (and, in a home server, the channel), how it went
(`answered`, `not_answered`, `off_topic`, `refused`), the passages quoted, the index generation and how long the
answer took. Words are kept only where members were told they are (see bot/privacy.py): the question's text, the
key terms the corpus lacks and the embedding of its wording (to group questions by meaning) only for a question
asked in a home server, not private and not refused, and only once mentions, emoji and links are taken out.

A row's key is random, never a Discord id. A member is stored only as a keyed hash of their id, scoped to the
server (one member's rows in two servers do not match), and the message that asked or answered as a keyed hash of
its id, so deleting it deletes the row: HMAC-SHA256 with a random key kept beside the database
(DATABASE_PATH + ".key"); without the key a hash cannot be tied back to an id. Rows older than QUESTION_LOG_DAYS
are deleted; deleted rows are overwritten (secure_delete), and the files are the bot's user's alone.

The database is in WAL mode, so reports read while the bot writes. Every write goes through one thread with its
own connection: the event loop only puts an entry on a queue, and a database error (or any other) is logged,
never raised to the member who asked. The schema is versioned (`PRAGMA user_version`) and brought up to date by
MIGRATIONS.
"""


import contextlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import stat
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.privacy import scrub
from bot.settings import Settings
from index.embedding import Embedder

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "not_answered", "off_topic", "refused")
KEY_BYTES = 32
HASH_CHARS = 32
LOCK_WAIT_SECONDS = 2.0  # a write waits this long for a lock another connection holds, then gives up
QUEUE_LIMIT = 10_000  # entries waiting to be written; past this (a database stuck for minutes) they are dropped
WRITE_EVERY_SECONDS = 0.5  # how often the writer writes what is queued (a vote or a flush wakes it at once)
BATCH_LIMIT = 500  # entries written in one transaction
PURGE_EVERY_SECONDS = 3600.0
DAY_SECONDS = 86_400
READ_MAP_BYTES = 1 << 30
REMEMBERED = 256  # question embeddings kept for the log: the searches of the last moments
DELETES_REMEMBERED = 1024  # deleted messages whose entry, still queued, must not be written after all
OWNER_ONLY = 0o600
SIDE_FILES = ("-wal", "-shm")  # SQLite gives them the database file's mode

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
    # Version 2: random keys instead of Discord ids, member hashes scoped to the server, the asking message's
    # hash for deletes, no channel for DMs, no words for private or refused questions, and no mentions, emoji or
    # links in the words kept (a wording that held some is replaced by the one without). Words of servers that are
    # not home servers are dropped at every start (`keep_words_at_home`). Uses the functions `row_key`,
    # `scoped_hash`, `message_hash`, `scrub` and `wording`, which `migrate` registers, with the log's key.
    """
    CREATE TEMP TABLE rekeyed (old INTEGER PRIMARY KEY, new INTEGER NOT NULL UNIQUE);
    INSERT INTO rekeyed SELECT id, row_key() FROM questions;
    CREATE TABLE questions_v2 (
        id INTEGER PRIMARY KEY,   -- random (`row_key`), never a Discord id
        asked_at REAL NOT NULL,   -- unix seconds
        guild_id INTEGER,         -- NULL for a DM
        channel_id INTEGER,       -- only in a home server
        user_hash TEXT NOT NULL,  -- keyed hash of the member's id, scoped to the server (`QuestionLog.user_hash`)
        message_hash TEXT,        -- keyed hash of the mention that asked, or of /ask's answer, for deletes
        via TEXT NOT NULL,        -- slash or mention
        question TEXT,            -- NULL unless asked in a home server, not private and not refused
        wording_id INTEGER REFERENCES wordings (id),  -- NULL when `question` is
        private INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        missing TEXT NOT NULL,    -- JSON list of the question's key terms the corpus never mentions; [] without text
        generation INTEGER,
        latency_ms REAL
    );
    INSERT INTO questions_v2
        SELECT r.new, q.asked_at, q.guild_id, CASE WHEN q.guild_id IS NOT NULL THEN q.channel_id END,
               scoped_hash(q.guild_id, q.user_hash), CASE WHEN q.via = 'mention' THEN message_hash(q.id) END, q.via,
               CASE WHEN kept THEN q.question END, CASE WHEN kept THEN q.wording_id END, q.private, q.outcome,
               CASE WHEN kept THEN q.missing ELSE '[]' END, q.generation, q.latency_ms
        FROM (SELECT *, private = 0 AND outcome != 'refused' AND question IS NOT NULL AS kept FROM questions) AS q
        JOIN rekeyed AS r ON r.old = q.id;
    CREATE TABLE quoted_v2 (
        question_id INTEGER NOT NULL REFERENCES questions_v2 (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        chunk_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        PRIMARY KEY (question_id, rank)
    );
    INSERT INTO quoted_v2 SELECT r.new, q.rank, q.chunk_id, q.source_id FROM quoted AS q
        JOIN rekeyed AS r ON r.old = q.question_id;
    CREATE TABLE votes_v2 (
        question_id INTEGER NOT NULL REFERENCES questions_v2 (id) ON DELETE CASCADE,
        user_hash TEXT NOT NULL,  -- scoped to the server of the question voted on
        helpful INTEGER NOT NULL,
        voted_at REAL NOT NULL,
        PRIMARY KEY (question_id, user_hash)
    );
    INSERT INTO votes_v2 SELECT r.new, scoped_hash(q.guild_id, v.user_hash), v.helpful, v.voted_at FROM votes AS v
        JOIN rekeyed AS r ON r.old = v.question_id JOIN questions AS q ON q.id = v.question_id;
    DROP TABLE votes;
    DROP TABLE quoted;
    DROP TABLE questions;
    ALTER TABLE questions_v2 RENAME TO questions;
    ALTER TABLE quoted_v2 RENAME TO quoted;
    ALTER TABLE votes_v2 RENAME TO votes;
    DROP TABLE temp.rekeyed;
    CREATE INDEX questions_by_time ON questions (asked_at);
    CREATE INDEX questions_by_outcome ON questions (outcome, private, asked_at);
    CREATE INDEX questions_by_wording ON questions (wording_id);
    CREATE INDEX questions_by_member ON questions (guild_id, user_hash);
    CREATE INDEX questions_by_message ON questions (message_hash) WHERE message_hash IS NOT NULL;
    CREATE INDEX votes_by_member ON votes (user_hash);
    UPDATE questions SET question = nullif(scrub(question), '') WHERE question IS NOT NULL;
    UPDATE questions SET wording_id = NULL, missing = '[]' WHERE question IS NULL;
    INSERT OR IGNORE INTO wordings (wording) SELECT DISTINCT wording(question) FROM questions
        WHERE question IS NOT NULL;
    UPDATE questions SET wording_id = (SELECT id FROM wordings WHERE wording = wording(questions.question))
        WHERE question IS NOT NULL;
    DELETE FROM wordings WHERE id NOT IN (SELECT wording_id FROM questions WHERE wording_id IS NOT NULL);
    """,
)


class QuestionLogError(Exception):
    """The question log's database cannot be opened or written; the message says why."""


TERMINAL = "terminal"  # `bot ask --log`: the operator's own questions, kept with their words like a home server's


def row_key() -> int:
    """A random key for a row: unrelated to any Discord id, so a row cannot be looked up by one."""
    return secrets.randbits(63)


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
    """A connection in autocommit mode (transactions are explicit) with foreign keys on. A writer's connection
    makes the file readable by its owner only, and overwrites what it deletes."""
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
            owner_only(path)
            connection = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None,
                                         check_same_thread=False)
        connection.execute("PRAGMA foreign_keys = ON")
        if read_only:  # reports read much of the file: map it, rather than copy it page by page
            connection.execute(f"PRAGMA mmap_size = {READ_MAP_BYTES}")
        else:
            write_ahead(connection)
            connection.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: durable but for the last commits
            connection.execute("PRAGMA secure_delete = ON")  # a forgotten question leaves no bytes behind
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


def write_ahead(connection: sqlite3.Connection) -> None:
    """Puts the database in WAL mode. Switching needs the file to itself, and SQLite does not wait for that (two
    processes opening a new log at once): it is tried again for up to LOCK_WAIT_SECONDS."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def owner_only(database: Path) -> None:
    """Creates the database file readable and writable by its owner only (SQLite gives its -wal and -shm files
    the same mode); one that others could read, as older versions made it, is closed to them."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    for path in (database, *(database.with_name(database.name + side) for side in SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                path.chmod(mode & 0o700)
                log.warning("question log: %s could be read by other users (mode %o); now only by its owner",
                            path, mode)


def statements(script: str) -> Iterator[str]:
    """The SQL statements of a script, one at a time (executescript would commit the transaction first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"an incomplete SQL statement: {pending.strip()[:80]}")


def migrate(connection: sqlite3.Connection, key: bytes) -> None:
    """Applies the migrations the database has not had yet, each in one transaction with its version.

    The version is read inside the transaction, so two processes opening a new log at once apply each migration
    once: the second finds it done when it gets the lock.
    """
    connection.create_function("row_key", 0, row_key)
    connection.create_function("scoped_hash", 2, lambda guild_id, user: scoped_hash(key, guild_id, user),
                               deterministic=True)
    connection.create_function("message_hash", 1, lambda message_id: message_hash(key, message_id),
                               deterministic=True)
    connection.create_function("scrub", 1, scrub, deterministic=True)
    connection.create_function("wording", 1, wording, deterministic=True)
    while True:
        with transaction(connection):
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                return
            for statement in statements(MIGRATIONS[version]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version + 1}")
        log.info("question log: schema version %d", version + 1)


def holds_questions(connection: sqlite3.Connection) -> bool:
    """Whether the database holds any question, whose hashes only its key can make sense of."""
    if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'questions'").fetchone():
        return False
    return connection.execute("SELECT EXISTS (SELECT 1 FROM questions)").fetchone()[0] == 1


def read_key(path: Path, *, logged: bool = False) -> bytes:
    """The hashing key beside the database, made (readable by its owner only) the first time.

    A new key is written whole to a file of its own, then linked into place, which fails if another process
    made one first: then that one is used, so bots sharing a database share its key. A key that is gone while the
    database (`logged`) holds questions is an error, not a new key: the rows' hashes would match nobody, and
    /dossier forget could not find them. A key others can read is refused: with it, a list of ids unmasks members.
    """
    if not path.exists():
        if logged:
            raise QuestionLogError(f"the key file {path} is missing, but the question log beside it holds questions "
                                   "that only that key can tie to members: put the key back, or move the database "
                                   "aside to start a new log")
        fd, made = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
            with contextlib.suppress(FileExistsError):
                os.link(made, path)
        finally:
            os.unlink(made)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise QuestionLogError(f"the key file {path} can be read by other users (mode {mode:o}): make it the bot's "
                               f"user's alone (chmod 600 {path})")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise QuestionLogError(f"the key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES}); "
                               "move it and the database aside to start a new log")
    return key


def key_path(database: Path) -> Path:
    return database.with_name(database.name + ".key")


def _hash(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), "sha256").hexdigest()[:HASH_CHARS]


def scoped_hash(key: bytes, guild_id: int | None, member_hash: str) -> str:
    """A member's hash in one server (None: DMs), from their hash across servers: rows of two servers never match."""
    return _hash(key, f"{'dm' if guild_id is None else guild_id}:{member_hash}")


def message_hash(key: bytes, message_id: int) -> str:
    return _hash(key, f"message:{message_id}")


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


def store_vectors(connection: sqlite3.Connection, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings of wordings (by id) that gaps had to compute, so it never computes them again."""
    connection.executemany("UPDATE wordings SET model = ?, vector = ? WHERE id = ?",
                           [(model, vector_bytes(vector), wording_id) for wording_id, vector in vectors])


def keep_words_at_home(connection: sqlite3.Connection, homes: Collection[int]) -> None:
    """Drops the words (text, missing terms, wording) and channel of every row not asked in a home server (or at
    the operator's own terminal): a server taken out of MODERATOR_GUILD_IDS takes its questions' text with it."""
    elsewhere = (f"via != '{TERMINAL}' AND "
                 "(guild_id IS NULL OR guild_id NOT IN (SELECT value FROM json_each(:homes)))")
    with transaction(connection):
        connection.execute(f"UPDATE questions SET question = NULL, wording_id = NULL, missing = '[]' "
                           f"WHERE (question IS NOT NULL OR wording_id IS NOT NULL OR missing != '[]') AND {elsewhere}",
                           {"homes": json.dumps(sorted(homes))})
        connection.execute(f"UPDATE questions SET channel_id = NULL WHERE channel_id IS NOT NULL AND {elsewhere}",
                           {"homes": json.dumps(sorted(homes))})
        _drop_unused_wordings(connection)


def _drop_unused_wordings(connection: sqlite3.Connection) -> None:
    connection.execute("DELETE FROM wordings WHERE id NOT IN "
                       "(SELECT wording_id FROM questions WHERE wording_id IS NOT NULL)")


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

    def __init__(self, path: Path | None, days: int, key: bytes = b"", off: str | None = None,
                 homes: Collection[int] = ()) -> None:
        self.path = path
        self.days = days
        self.off = off  # why the log is off, or None while it records
        self.homes = frozenset(homes)  # the servers whose questions may be stored with their words
        self._key = key
        self._pending: deque[_Op] = deque()  # appended to by any thread, emptied by the writer
        self._wake = threading.Event()  # wakes the writer before WRITE_EVERY_SECONDS is up
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None
        self._next_purge = 0.0
        self._lock = threading.Lock()
        self._dropped = 0  # entries refused since the writer last caught up
        self._deleted: OrderedDict[str, None] = OrderedDict()  # message hashes deleted lately (writer thread only)

    @classmethod
    def disabled(cls, reason: str) -> "QuestionLog":
        return cls(None, 0, off=reason)

    @classmethod
    def open(cls, path: Path, days: int, homes: Collection[int] = ()) -> "QuestionLog":
        """Opens (or creates) the database, brings its schema up to date, drops the words no home server may
        keep, and starts the writer thread."""
        connection = connect(path)
        try:
            key = read_key(key_path(path), logged=holds_questions(connection))
            migrate(connection, key)
            keep_words_at_home(connection, homes)
        except (sqlite3.Error, OSError) as error:
            connection.close()
            raise QuestionLogError(f"cannot open the question log at {path}: {error}") from error
        except QuestionLogError:
            connection.close()
            raise
        opened = cls(path, days, key, homes=homes)
        opened._connection = connection
        opened._thread = threading.Thread(target=opened._write_forever, name="question-log", daemon=True)
        opened._thread.start()
        return opened

    @property
    def enabled(self) -> bool:
        return self.off is None

    def user_hash(self, user_id: int, guild_id: int | None) -> str:
        """The member as the log knows them in one server (None: DMs)."""
        return scoped_hash(self._key, guild_id, _hash(self._key, str(user_id)))

    def record(self, entry: Entry) -> None:
        """Queues the entry for the writer's next round; never waits, never raises, and wakes no thread."""
        if self.enabled:
            self._put(_Op(lambda connection: self._insert(connection, entry), f"question {entry.id}"))

    def vote(self, question_id: int, user_id: int, guild_id: int | None, helpful: bool) -> "Future[bool | None]":
        """Records a member's vote, replacing their earlier one; resolves to that earlier vote (None: first)."""
        done: Future[bool | None] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(_Op(lambda connection: _vote(connection, question_id, user, helpful), f"vote on {question_id}",
                      done), urgent=True)
        return done

    def forget_message(self, message_id: int) -> None:
        """Deletes the row of the question that message asked or answered, if any (queued, like a record)."""
        if self.enabled:
            hashed = message_hash(self._key, message_id)
            self._put(_Op(lambda connection: self._delete_message(connection, hashed), "a deleted message's row"))

    def forget_member(self, guild_id: int, user_id: int) -> "Future[tuple[int, int]]":
        """Deletes a member's questions and votes in one server; resolves to how many of each went."""
        done: Future[tuple[int, int]] = Future()
        if not self.enabled:
            done.set_exception(QuestionLogError(f"the question log is off: {self.off}"))
            return done
        user = self.user_hash(user_id, guild_id)
        self._put(_Op(lambda connection: _forget_member(connection, guild_id, user), "forgetting a member", done),
                  urgent=True)
        return done

    def remember_vectors(self, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
        """Keeps embeddings that gaps computed for wordings logged without one (queued, like a record)."""
        if self.enabled and vectors:
            self._put(_Op(lambda connection: store_vectors(connection, model, vectors), "wording embeddings"))

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
        """Writes the entry, with its words only where members were told they are kept (see bot/privacy.py)."""
        hashed = None if entry.message_id is None else message_hash(self._key, entry.message_id)
        if hashed is not None and hashed in self._deleted:
            return  # its message was deleted before the entry was written
        home = entry.guild_id in self.homes or entry.via == TERMINAL
        text = scrub(entry.question) if home and not entry.private and entry.outcome != "refused" else ""
        wording_id = _wording_id(connection, text, entry) if text else None
        missing = [term for term in map(scrub, entry.missing) if term] if text else []
        connection.execute(
            "INSERT INTO questions (id, asked_at, guild_id, channel_id, user_hash, message_hash, via, question, "
            "wording_id, private, outcome, missing, generation, latency_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.id, entry.asked_at, entry.guild_id, entry.channel_id if home else None,
             self.user_hash(entry.user_id, entry.guild_id), hashed, entry.via, text or None, wording_id,
             int(entry.private), entry.outcome, json.dumps(missing), entry.generation, entry.latency_ms))
        connection.executemany("INSERT INTO quoted (question_id, rank, chunk_id, source_id) VALUES (?, ?, ?, ?)",
                               [(entry.id, rank, chunk, source) for rank, (chunk, source) in
                                enumerate(entry.quoted, 1)])

    def _delete_message(self, connection: sqlite3.Connection, hashed: str) -> None:
        self._deleted[hashed] = None
        while len(self._deleted) > DELETES_REMEMBERED:
            self._deleted.popitem(last=False)
        _delete_questions(connection, "message_hash = ?", (hashed,))

    def _write_forever(self) -> None:
        """Every WRITE_EVERY_SECONDS, or when woken, writes what is queued, in batches of a transaction each.

        Waking on a timer rather than on each entry writes many questions in one transaction, and keeps the
        writer from taking the interpreter from the event loop on every question. Whatever goes wrong in a round,
        the thread goes on, and whoever waited for the round is answered."""
        assert self._connection is not None
        connection = self._connection
        while True:
            batch: list[_Op] = []
            try:
                self._purge_if_due(connection)
                if not self._pending:
                    self._wake.wait(WRITE_EVERY_SECONDS)
                self._wake.clear()
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH_LIMIT))]
                work = [op for op in batch if op.run is not None]
                if work:
                    self._write(connection, work)
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

    def _write(self, connection: sqlite3.Connection, batch: list[_Op]) -> None:
        """Writes the batch in one transaction. When one op fails on its own (a vote on a question that was never
        recorded, an entry the code cannot store), each op is tried alone, so that op alone is lost; a database
        that cannot be written (locked, full) loses the batch."""
        try:
            with transaction(connection):
                results = [op.run(connection) for op in batch if op.run is not None]
        except Exception as error:
            whole_database = isinstance(error, sqlite3.Error) and not isinstance(error, sqlite3.IntegrityError)
            if len(batch) > 1 and not whole_database:
                for op in batch:
                    self._write(connection, [op])
                return
            what = f"the {batch[0].what}" if len(batch) == 1 else f"{len(batch)} entries"
            if isinstance(error, sqlite3.Error):
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

    def _purge_if_due(self, connection: sqlite3.Connection) -> None:
        now = time.time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        try:
            with transaction(connection):
                deleted = connection.execute("DELETE FROM questions WHERE asked_at < ?",
                                             (now - self.days * DAY_SECONDS,)).rowcount
                _drop_unused_wordings(connection)
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


def _wording_id(connection: sqlite3.Connection, text: str, entry: Entry) -> int:
    """The id of the wording of `text`, added if new; its embedding stored unless one from that model is."""
    compared = wording(text)
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


def _delete_questions(connection: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> int:
    """Deletes the questions matching `where` (their passages and votes go with them), and their wordings if no
    other question uses them; returns how many questions went."""
    wordings = [row[0] for row in connection.execute(
        f"SELECT DISTINCT wording_id FROM questions WHERE wording_id IS NOT NULL AND {where}", args)]
    deleted: int = connection.execute(f"DELETE FROM questions WHERE {where}", args).rowcount
    connection.executemany("DELETE FROM wordings WHERE id = ? AND NOT EXISTS "
                           "(SELECT 1 FROM questions WHERE wording_id = ?)", [(w, w) for w in wordings])
    return deleted


def _forget_member(connection: sqlite3.Connection, guild_id: int, user_hash: str) -> tuple[int, int]:
    questions = _delete_questions(connection, "guild_id = ? AND user_hash = ?", (guild_id, user_hash))
    votes: int = connection.execute("DELETE FROM votes WHERE user_hash = ?", (user_hash,)).rowcount
    return questions, votes


def open_question_log(settings: Settings) -> QuestionLog:
    """The log as the settings ask for it: off with QUESTION_LOG=false, and off (the error logged) when its
    database cannot be opened, for the bot must answer all the same."""
    if not settings.question_log:
        return QuestionLog.disabled("QUESTION_LOG is false")
    path, days = settings.database_path, settings.question_log_days
    try:
        opened = QuestionLog.open(path, days, homes=settings.moderator_guild_ids)
    except QuestionLogError as error:
        log.error("the question log is off: %s", error)
        return QuestionLog.disabled(str(error))
    log.info("question log: %s, rows kept %d days, words kept for the home servers %s", path, days,
             sorted(settings.moderator_guild_ids) or "(none: MODERATOR_GUILD_IDS is not set)")
    return opened
