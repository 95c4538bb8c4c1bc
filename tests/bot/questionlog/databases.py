"""The question log's two databases for tests: a SQLite file in the test's folder, or a fresh database on a
throwaway PostgreSQL cluster that the test session starts (initdb and pg_ctl from Debian's `postgresql` package, as
the `postgres` user when the tests run as root, on a free port, in a temp folder) and stops at its end.

The log's tests take the fixture `log_backend`, parametrised over both, and assert the same things on each.
"""

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.questionlog.connect import open_database
from bot.questionlog.database import Database, Location

NO_POSTGRES = ("PostgreSQL is not installed here (no initdb on PATH or in /usr/lib/postgresql/*/bin), so the question "
               "log's PostgreSQL tests are skipped; `apt-get install postgresql` (as .ci/run does) runs them")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


class Cluster:
    """A PostgreSQL cluster of its own, on 127.0.0.1 and a free port, whose `dossier` role logs in with a password
    over TCP (as a bot on another host would) and owns one database per test."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self._as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.start_server()
        self.admin(f"CREATE ROLE dossier LOGIN PASSWORD '{self.password}'")

    def start_server(self) -> None:
        """Starts the server and waits until it takes connections. Durability is off: the cluster is thrown away."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")

    def stop_server(self) -> None:
        """Stops the server the way an operator's restart does: fast, cutting every connection."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        """Runs SQL as the superuser, over the cluster's own socket."""
        import psycopg

        with psycopg.connect(host=str(self.folder), port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            cursor = connection.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def create_database(self) -> str:
        """A new empty database owned by `dossier`; its URL, password included."""
        name = f"log_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name} OWNER dossier")
        return f"postgresql://dossier:{self.password}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def wal_position(self) -> str:
        return str(self.admin("SELECT pg_current_wal_lsn()")[0][0])

    def files(self, url: str, since: str) -> bytes:
        """Every byte the server keeps on disk for the database at `url`: its data files, after a checkpoint, and
        the write-ahead log it wrote since the position `since` (the cluster's other databases left out)."""
        self.admin("CHECKPOINT")
        name = url.rsplit("/", 1)[1]
        oid = self.admin(f"SELECT oid FROM pg_database WHERE datname = '{name}'")[0][0]
        chunks = [path.read_bytes() for path in sorted((self.data / "base" / str(oid)).iterdir()) if path.is_file()]
        (first, start), = self.admin(f"SELECT * FROM pg_walfile_name_offset('{since}')")
        (last, end), = self.admin("SELECT * FROM pg_walfile_name_offset(pg_current_wal_lsn())")
        for segment in sorted(path.name for path in (self.data / "pg_wal").iterdir() if len(path.name) == 24):
            if first <= segment <= last:
                data = (self.data / "pg_wal" / segment).read_bytes()
                chunks.append(data[start if segment == first else 0:end if segment == last else None])
        return b"".join(chunks)


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster | None]:
    """A started cluster for the session, stopped after it; None where PostgreSQL is not installed."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        yield None
        return
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class LogBackend:
    """One of the log's databases for one test: the settings that point the bot at it, and what a test reads."""

    name: str
    folder: Path
    cluster: Cluster | None = None
    url: str | None = None
    key: str = field(default_factory=lambda: secrets.token_hex(32))
    since: str = ""  # where the cluster's write-ahead log stood when the database was made

    def __post_init__(self) -> None:
        if self.cluster is not None:
            self.since = self.cluster.wal_position()

    @property
    def postgres(self) -> bool:
        return self.cluster is not None

    @property
    def path(self) -> Path:
        return self.folder / "questions.sqlite3"

    @property
    def settings(self) -> dict[str, Any]:
        """Settings overrides that put the bot's log here."""
        if self.url is None:
            return {"database_path": self.path}
        return {"database_url": SecretStr(self.url), "question_log_key": SecretStr(self.key)}

    @property
    def env(self) -> dict[str, str]:
        """The same, as environment variables for a subprocess."""
        if self.url is None:
            return {"DATABASE_PATH": str(self.path)}
        return {"DATABASE_URL": self.url, "QUESTION_LOG_KEY": self.key}

    @property
    def location(self) -> Location:
        if self.url is None:
            return Location(path=self.path)
        return Location(url=SecretStr(self.url), key=SecretStr(self.key))

    def open(self) -> Database:
        return open_database(self.location)

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with contextlib.closing(open_database(self.location, read_only=True)) as database:
            return database.fetchall(sql, args)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Another connection holds the log's tables locked for the block, so no write can go through."""
        if self.url is None:
            import sqlite3

            blocker = sqlite3.connect(self.path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                blocker.execute("COMMIT")
                blocker.close()
            return
        import psycopg

        with psycopg.connect(self.url) as blocker:
            blocker.execute("LOCK TABLE questions, votes, wordings, quoted, log_meta IN ACCESS EXCLUSIVE MODE")
            yield

    def stored_text(self) -> str:
        """Every value of every table, as text."""
        with contextlib.closing(open_database(self.location, read_only=True)) as database:
            return "\n".join(str(row) for table in sorted(database.tables())
                             for row in database.fetchall(f"SELECT * FROM {table}"))

    def file_bytes(self) -> bytes:
        """The bytes the database keeps on disk: the SQLite file and its write-ahead log, or the PostgreSQL
        cluster's data files and write-ahead log."""
        if self.cluster is not None and self.url is not None:
            return self.cluster.files(self.url, self.since)
        return b"".join(p.read_bytes() for p in (self.path, self.path.with_name(self.path.name + "-wal"))
                        if p.exists())

    def drop(self) -> None:
        if self.cluster is not None and self.url is not None:
            self.cluster.drop_database(self.url)


def wait_for(condition: Any, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s"
        time.sleep(0.05)
