"""The question log's hashing key, and the keyed hashes made with it.

A member is stored only as HMAC-SHA256(key, their id), scoped to the server; a message as HMAC(key, its id), so
that deleting it finds its row. Without the key a hash cannot be tied back to an id.

Where the key lives:
- SQLite (one host): a random key in a file beside the database (DATABASE_PATH + ".key"), made the first time,
  readable by the bot's user only. Processes on that host share it by sharing the file.
- PostgreSQL (several hosts): the setting QUESTION_LOG_KEY, the same on every host. Not in the database: a copy of
  the database (a backup, a replica, whoever may read it) must not be enough to tie a hash to a member, as it is
  not with SQLite's key file; every host is given a secret the same way already (DISCORD_TOKEN).

Either way the log records a check of its key (`key_check`, an HMAC of a fixed text, which does not reveal the key),
and a process with another key is refused: its hashes would match nobody's, and /dossier forget could not find a
member's rows.
"""

import contextlib
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path

from bot.questionlog.database import Database, Location, LogSettingError, QuestionLogError

KEY_BYTES = 32
HASH_CHARS = 32
MAKE_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"


def key_path(database: Path) -> Path:
    return database.with_name(database.name + ".key")


def read_key(path: Path, *, logged: bool = False) -> bytes:
    """The hashing key beside a SQLite database, made (readable by its owner only) the first time.

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


def shared_key(where: Location) -> bytes:
    """QUESTION_LOG_KEY, the key every host of a PostgreSQL log shares: 64 hex digits."""
    if where.key is None:
        raise LogSettingError("QUESTION_LOG_KEY is not set, and a question log on PostgreSQL needs it: every bot "
                              "process hashes members with it, so give them all the same one. Make one with "
                              f"{MAKE_KEY}, and keep it secret")
    return bytes.fromhex(where.key.get_secret_value())


def log_key(database: Database) -> bytes:
    """The key of the log `database` holds: QUESTION_LOG_KEY on PostgreSQL, the key file beside a SQLite file."""
    where = database.where
    if where.postgres:
        return shared_key(where)
    assert where.path is not None
    return read_key(key_path(where.path), logged=database.holds_questions())


def key_check(key: bytes) -> str:
    return _hash(key, "dossier question log key check")


def check_key(database: Database, key: bytes) -> None:
    """Records the key's check in a log that has none (or holds no question yet); refuses a key whose check differs
    from the one recorded."""
    row = database.fetchone("SELECT value FROM log_meta WHERE name = 'key_check'")
    if row is None or (row[0] != key_check(key) and not database.holds_questions()):  # nothing hashed with the old
        database.execute("INSERT INTO log_meta (name, value) VALUES ('key_check', ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (key_check(key),))
    elif not hmac.compare_digest(row[0], key_check(key)):
        where = database.where
        if where.postgres:
            raise LogSettingError(f"QUESTION_LOG_KEY is not the key the question log at {where} was written with: "
                                  "its members' hashes would match nobody. Set the key the other bot processes use")
        raise QuestionLogError(f"the key file beside {where} is not the key the question log was written with: its "
                               "members' hashes would match nobody. Put the right key back")


def _hash(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), "sha256").hexdigest()[:HASH_CHARS]


def member_hash(key: bytes, user_id: int) -> str:
    """A member across servers: never stored as such, only scoped to one server."""
    return _hash(key, str(user_id))


def scoped_hash(key: bytes, guild_id: int | None, member: str) -> str:
    """A member's hash in one server (None: DMs), from their hash across servers: rows of two servers never match."""
    return _hash(key, f"{'dm' if guild_id is None else guild_id}:{member}")


def message_hash(key: bytes, message_id: int) -> str:
    return _hash(key, f"message:{message_id}")
