"""The question log's database: one small interface over SQLite (the default: a file at DATABASE_PATH) and
PostgreSQL (DATABASE_URL, for bot processes on several hosts), so that the log's SQL is written once.

SQL is written with `?` parameters, in what both engines speak: ON CONFLICT upserts, FILTER on aggregates, window
functions, and the type names INTEGER, REAL, BLOB and TEXT, which the PostgreSQL dialect maps to its own. What
else differs is a dialect's: how the schema version is kept, how a migration excludes another process, and the
SQL of a calendar day. The engines are sqlite.py and postgres.py, and connect.py opens the one a Location names
(psycopg is imported only when DATABASE_URL names PostgreSQL).

Errors of either driver come out as LogDatabaseError, which says whether one row broke a constraint (`conflict`),
the transaction may simply be run again (`retry`), or the server could not be reached (`unreachable`).
"""

import contextlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

from bot.settings import Settings

LOCK_WAIT_SECONDS = 2.0  # a write waits this long for a lock another connection holds, then gives up

Row = tuple[Any, ...]


class QuestionLogError(Exception):
    """The question log's database cannot be opened or written; the message says why."""


class LogSettingError(QuestionLogError):
    """A setting the question log needs is missing or wrong (exit status 2, as for any bad setting)."""


class LogUnavailable(QuestionLogError):
    """The question log's database server cannot be reached (exit status 69: try again once it is up)."""


class LogDatabaseError(QuestionLogError):
    """A statement failed. `conflict`: one row broke a constraint, the rest of a batch can go on; `retry`: the
    transaction lost a deadlock or a serialization race and may be run again; `unreachable`: the connection is
    gone."""

    def __init__(self, message: str, *, conflict: bool = False, retry: bool = False,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict
        self.retry = retry
        self.unreachable = unreachable


@dataclass(frozen=True)
class Location:
    """Where the log is: a SQLite file (`path`), or a PostgreSQL database (`url`) whose hosts share `key`."""

    path: Path | None = None
    url: SecretStr | None = None
    key: SecretStr | None = None

    @classmethod
    def of(cls, settings: Settings) -> "Location":
        if settings.database_url is not None:
            return cls(url=settings.database_url, key=settings.question_log_key)
        return cls(path=settings.database_path)

    @property
    def postgres(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return redacted(self.url.get_secret_value()) if self.url is not None else str(self.path)


def redacted(url: str) -> str:
    """A database URL fit to show: its password, in the address or as a parameter, replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = urlencode([(name, "***" if name == "password" else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


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


class Database(ABC):
    """One connection to the log's database, SQLite or PostgreSQL, used by one thread at a time."""

    def __init__(self, where: Location) -> None:
        self.where = where

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; returns how many rows it changed."""
        return self._run(lambda: self._execute(sql, params).rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._run(lambda: self._executemany(sql, rows))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(lambda: [tuple(row) for row in self._execute(sql, params).fetchall()])

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._run(lambda: self._execute(sql, params).fetchone())
        return None if row is None else tuple(row)

    def script(self, sql: str) -> None:
        """Runs each statement of a schema script, its type names in this dialect."""
        for statement in statements(self.types(sql)):
            self.execute(statement)

    def tables(self) -> list[str]:
        """The log's tables, by name."""
        return [row[0] for row in self.fetchall(self._tables_sql)]

    def holds_questions(self) -> bool:
        """Whether the database holds any question, whose hashes only its key can make sense of."""
        return "questions" in self.tables() and self.fetchone("SELECT 1 FROM questions LIMIT 1") is not None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, committed at the end of the block and rolled back on any error."""
        with self._run_block(), self._transaction():
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in the block see the database as it was at its first read, whatever is written meanwhile."""
        with self._run_block():
            self._execute(self._snapshot_sql, ())
            try:
                yield
            finally:
                self._execute("COMMIT", ())

    @contextlib.contextmanager
    def _run_block(self) -> Iterator[None]:
        try:
            yield
        except self._driver_error as error:
            raise self._translated(error) from error

    def _run(self, work: Any) -> Any:
        try:
            return work()
        except self._driver_error as error:
            raise self._translated(error) from error

    _tables_sql: str
    _snapshot_sql: str
    _driver_error: type[Exception] | tuple[type[Exception], ...]

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any]) -> Any: ...

    @abstractmethod
    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[None]: ...

    @abstractmethod
    def _translated(self, error: Exception) -> LogDatabaseError: ...

    @abstractmethod
    def types(self, sql: str) -> str:
        """The schema script with its type names in this dialect."""

    @abstractmethod
    def day(self, column: str) -> str:
        """SQL for the calendar day (UTC, YYYY-MM-DD) of a unix time in `column`."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def set_schema_version(self, version: int) -> None: ...

    @abstractmethod
    def lock_schema(self) -> None:
        """Within a transaction: keeps any other process from migrating until it ends."""

    @abstractmethod
    def close(self) -> None: ...

    def replaced(self) -> bool:
        """Whether the database this connection writes is no longer the one at its location (a file deleted or
        put in its place); a server's never is."""
        return False
