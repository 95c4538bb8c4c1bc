"""The question log on SQLite, the default: a file at DATABASE_PATH, in WAL mode, readable by its owner only."""

import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.questionlog.database import (
    LOCK_WAIT_SECONDS,
    Database,
    Location,
    LogDatabaseError,
    LogSettingError,
    QuestionLogError,
)

log = logging.getLogger(__name__)

READ_MAP_BYTES = 1 << 30
OWNER_ONLY = 0o600
SIDE_FILES = ("-wal", "-shm")  # SQLite gives them the database file's mode


class SQLiteDatabase(Database):
    """A SQLite file in WAL mode, readable by its owner only. A writer's connection overwrites what it deletes."""

    _tables_sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    _snapshot_sql = "BEGIN"  # deferred: WAL readers keep the snapshot of their first read
    _driver_error = sqlite3.Error

    def __init__(self, where: Location, read_only: bool = False) -> None:
        super().__init__(where)
        assert where.path is not None
        self.path = where.path
        self.connection = _connect(where.path, read_only)
        self._identity = _identity(where.path)

    def _execute(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        return self.connection.execute(sql, params)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN IMMEDIATE")  # the write lock at once: no deadlock between two writers
        try:
            yield
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _translated(self, error: Exception) -> LogDatabaseError:
        return LogDatabaseError(f"{error}", conflict=isinstance(error, sqlite3.IntegrityError))

    def types(self, sql: str) -> str:
        return sql

    def day(self, column: str) -> str:
        return f"date({column}, 'unixepoch')"

    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.connection.execute(f"PRAGMA user_version = {int(version)}")

    def lock_schema(self) -> None:
        """BEGIN IMMEDIATE holds the file's write lock already."""

    def close(self) -> None:
        self.connection.close()

    def replaced(self) -> bool:
        return _identity(self.path) != self._identity


def _identity(path: Path) -> tuple[int, int] | None:
    """The file's device and inode: what tells it from another file made at the same path."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with foreign keys on."""
    if path.is_dir():
        raise LogSettingError(f"DATABASE_PATH is {path}, which is a folder: set DATABASE_PATH to a file, such as "
                              f"{path / 'dossier.sqlite3'} (the bot creates it)")
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
        connection.execute("PRAGMA user_version").fetchone()  # a file that is no database fails here
    except (sqlite3.Error, OSError) as error:
        if connection is not None:
            connection.close()
        raise QuestionLogError(f"cannot open the question log at {path}: {error}") from error
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
