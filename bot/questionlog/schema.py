"""The question log's schema: one set of migrations for SQLite and PostgreSQL, each applied once, in order.

A migration is a schema script in the SQL both engines speak (each dialect maps the type names), and, where rows
must be rewritten with what only Python knows (the log's key, `scrub`), a step in Python between two scripts.
The version is kept by the dialect (`PRAGMA user_version`, or a `schema_version` table), read inside the
migration's transaction while the dialect keeps other processes out, so two processes opening a new log at once
apply each migration once.
"""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from bot.questionlog.connect import open_database
from bot.questionlog.database import Database, Location, LogDatabaseError, QuestionLogError
from bot.questionlog.keys import check_key, log_key, message_hash, scoped_hash
from bot.questionlog.privacy import scrub

log = logging.getLogger(__name__)


def row_key() -> int:
    """A random key for a row: unrelated to any Discord id, so a row cannot be looked up by one."""
    return secrets.randbits(63)


def wording(question: str) -> str:
    """What makes two questions one wording: case, spacing and end punctuation do not count."""
    return " ".join(question.casefold().split()).rstrip("?!.,;: ")


@dataclass(frozen=True)
class Migration:
    """`schema`, then `rows` (given the log's key), then `after`, in one transaction."""

    schema: str
    rows: Callable[[Database, bytes], None] | None = None
    after: str = ""

    def apply(self, database: Database, key: bytes) -> None:
        database.script(self.schema)
        if self.rows is not None:
            self.rows(database, key)
        database.script(self.after)


VERSION_1 = """
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
"""

# Version 2: random keys instead of Discord ids, member hashes scoped to the server, the asking message's hash for
# deletes, no channel for DMs, no words for private or refused questions, and no mentions, emoji or links in the
# words kept (a wording that held some is replaced by the one without). Words of servers that are not home servers
# are dropped at every start (`keep_words_at_home`).
VERSION_2_TABLES = """
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
CREATE TABLE quoted_v2 (
    question_id INTEGER NOT NULL REFERENCES questions_v2 (id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    chunk_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (question_id, rank)
);
CREATE TABLE votes_v2 (
    question_id INTEGER NOT NULL REFERENCES questions_v2 (id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,  -- scoped to the server of the question voted on
    helpful INTEGER NOT NULL,
    voted_at REAL NOT NULL,
    PRIMARY KEY (question_id, user_hash)
);
"""

VERSION_2_SWAP = """
DROP TABLE votes;
DROP TABLE quoted;
DROP TABLE questions;
ALTER TABLE questions_v2 RENAME TO questions;
ALTER TABLE quoted_v2 RENAME TO quoted;
ALTER TABLE votes_v2 RENAME TO votes;
CREATE INDEX questions_by_time ON questions (asked_at);
CREATE INDEX questions_by_outcome ON questions (outcome, private, asked_at);
CREATE INDEX questions_by_wording ON questions (wording_id);
CREATE INDEX questions_by_member ON questions (guild_id, user_hash);
CREATE INDEX questions_by_message ON questions (message_hash) WHERE message_hash IS NOT NULL;
CREATE INDEX votes_by_member ON votes (user_hash);
DELETE FROM wordings WHERE id NOT IN (SELECT wording_id FROM questions WHERE wording_id IS NOT NULL);
"""


def _version_2_rows(database: Database, key: bytes) -> None:
    """Copies version 1's rows into version 2's tables: new keys, scoped hashes, and words only where kept."""
    rekeyed: dict[int, int] = {}
    guilds: dict[int, int | None] = {}
    for (old, asked_at, guild_id, channel_id, user_hash, via, question, private, outcome, missing, generation,
         latency_ms) in database.fetchall(
            "SELECT id, asked_at, guild_id, channel_id, user_hash, via, question, private, outcome, missing, "
            "generation, latency_ms FROM questions"):
        new = rekeyed[old] = row_key()
        guilds[old] = guild_id
        kept = private == 0 and outcome != "refused" and question is not None
        text = scrub(question) if kept else ""
        database.execute(
            "INSERT INTO questions_v2 (id, asked_at, guild_id, channel_id, user_hash, message_hash, via, question, "
            "wording_id, private, outcome, missing, generation, latency_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new, asked_at, guild_id, channel_id if guild_id is not None else None,
             scoped_hash(key, guild_id, user_hash), message_hash(key, old) if via == "mention" else None, via,
             text or None, wording_id(database, text) if text else None, private, outcome,
             missing if text else "[]", generation, latency_ms))
    database.executemany("INSERT INTO quoted_v2 (question_id, rank, chunk_id, source_id) VALUES (?, ?, ?, ?)",
                         [(rekeyed[question_id], rank, chunk_id, source_id) for question_id, rank, chunk_id, source_id
                          in database.fetchall("SELECT question_id, rank, chunk_id, source_id FROM quoted")])
    database.executemany("INSERT INTO votes_v2 (question_id, user_hash, helpful, voted_at) VALUES (?, ?, ?, ?)",
                         [(rekeyed[question_id], scoped_hash(key, guilds[question_id], user_hash), helpful, voted_at)
                          for question_id, user_hash, helpful, voted_at
                          in database.fetchall("SELECT question_id, user_hash, helpful, voted_at FROM votes")])


def wording_id(database: Database, text: str) -> int:
    """The id of the wording of `text`, added without an embedding if new."""
    compared = wording(text)
    database.execute("INSERT INTO wordings (wording) VALUES (?) ON CONFLICT (wording) DO NOTHING", (compared,))
    found = database.fetchone("SELECT id FROM wordings WHERE wording = ?", (compared,))
    assert found is not None
    return int(found[0])


# Version 3: the check of the key the members' hashes were made with (bot/questionlog/keys.py), and what else the log
# records of itself.
VERSION_3 = """
CREATE TABLE log_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(VERSION_1),
    Migration(VERSION_2_TABLES, _version_2_rows, VERSION_2_SWAP),
    Migration(VERSION_3),
)
LATEST = len(MIGRATIONS)


def migrate(database: Database, key: bytes) -> int:
    """Applies the migrations the database has not had yet, each in one transaction with its version; returns
    the version it found."""
    found: int | None = None
    while True:
        with database.transaction():
            database.lock_schema()
            version = database.schema_version()
            found = version if found is None else found
            if version > LATEST:
                raise newer(database, version)
            if version == LATEST:
                return found
            MIGRATIONS[version].apply(database, key)
            database.set_schema_version(version + 1)
        log.info("question log: schema version %d", version + 1)


def open_migrated(where: Location) -> tuple[Database, bytes, int]:
    """The log's database as a writer opens it: its schema brought up to date and its key checked. With the key,
    and the schema version it was found at."""
    database = open_database(where)
    try:
        key = log_key(database)
        found = migrate(database, key)
        with database.transaction():
            check_key(database, key)
    except BaseException as error:
        database.close()
        if isinstance(error, LogDatabaseError):
            raise QuestionLogError(f"cannot open the question log at {where}: {error}") from error
        if isinstance(error, OSError):
            raise QuestionLogError(f"cannot open the question log's key for {where}: {error}") from error
        raise
    return database, key, found


def check_version(database: Database) -> None:
    """Refuses to read a log whose schema is not this version's: older (migrate it first) or newer."""
    version = database.schema_version()
    if version > LATEST:
        raise newer(database, version)
    if version == 0 and "questions" not in database.tables():
        raise QuestionLogError(f"there is no question log at {database.where} yet: the bot writes it as members "
                               "ask, and so does `python -m bot ask --log`")
    if version < LATEST:
        raise QuestionLogError(f"the question log at {database.where} is not up to date; run `python -m bot log "
                               "migrate` (or start the bot once) to update it")


def newer(database: Database, version: int) -> QuestionLogError:
    return QuestionLogError(f"the question log at {database.where} was written by a newer Dossier (schema {version})")
