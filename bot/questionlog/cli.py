"""`python -m bot log migrate|export|copy`: the question log, for whoever runs the bot.

- `migrate` brings the schema of the log the settings name (DATABASE_URL, else DATABASE_PATH) up to date and
  records its key's check: what every bot process does when it starts, done once, on purpose, before they start.
- `export --json` prints every row, one JSON object a line, read in one snapshot: first `{"table": "log", "schema",
  "database", "exported_at", "key_check"}`, then `{"table": name, column: value, …}` for the wordings, questions,
  passages quoted and votes. Members and messages are the keyed hashes the log holds; embeddings are base64; the key
  is never in it, only the log's check of it (bot/questionlog/keys.py), which `log import`
  (bot/questionlog/restore.py) compares.
- `copy [--from PATH]` copies a SQLite log (DATABASE_PATH by default) into the PostgreSQL one at DATABASE_URL. The
  two must share a key, or the copied hashes would match nobody: QUESTION_LOG_KEY must be the SQLite log's key
  file, in hexadecimal. Rows already there are left as they are, so a copy that was cut off can be run again.
"""

import base64
import contextlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.questionlog.connect import open_database
from bot.questionlog.database import Database, Location, LogSettingError, QuestionLogError
from bot.questionlog.keys import key_path, read_key, shared_key
from bot.questionlog.schema import LATEST, check_version, open_migrated
from bot.settings import Settings

log = logging.getLogger(__name__)

# Every column of every table, in an order that inserts rows after the rows they refer to.
COLUMNS = {
    "wordings": ("id", "wording", "model", "vector"),
    "questions": ("id", "asked_at", "guild_id", "channel_id", "user_hash", "message_hash", "via", "question",
                  "wording_id", "private", "outcome", "missing", "generation", "latency_ms"),
    "quoted": ("question_id", "rank", "chunk_id", "source_id"),
    "votes": ("question_id", "user_hash", "helpful", "voted_at"),
}
KEYS = {"wordings": "wording", "questions": "id", "quoted": "question_id, rank", "votes": "question_id, user_hash"}


def migrate_command(settings: Settings) -> int:
    """Brings the log's schema up to date; says from which version to which."""
    where = Location.of(settings)
    database, _, found = open_migrated(where)
    database.close()
    change = f"schema version {LATEST}" + (f" (it was {found})" if found != LATEST else ", already up to date")
    print(f"question log at {where}: {change}")
    return 0


def export_command(settings: Settings) -> int:
    """Prints the log as JSON Lines."""
    where = Location.of(settings)
    with contextlib.closing(open_database(where, read_only=True)) as database, database.snapshot():
        check_version(database)
        key_check = database.fetchone("SELECT value FROM log_meta WHERE name = 'key_check'")
        print(json.dumps({"table": "log", "schema": LATEST, "database": str(where),
                          "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                          "key_check": None if key_check is None else key_check[0]}))
        for table, columns in COLUMNS.items():
            for row in database.fetchall(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {KEYS[table]}"):
                print(json.dumps({"table": table, **{column: _json(value) for column, value in zip(columns, row,
                                                                                                  strict=True)}},
                                 ensure_ascii=False))
    return 0


def _json(value: Any) -> Any:
    return base64.b64encode(value).decode() if isinstance(value, bytes | memoryview) else value


def copy_command(settings: Settings, source: Path | None, as_json: bool) -> int:
    """Copies a SQLite log into the PostgreSQL log; prints what it added."""
    target = Location.of(settings)
    if not target.postgres:
        raise LogSettingError("DATABASE_URL is not set: `log copy` copies a SQLite log into the PostgreSQL log that "
                              "DATABASE_URL names")
    path = source or settings.database_path
    if not path.exists():
        raise QuestionLogError(f"there is no SQLite question log at {path} to copy")
    key = read_key(key_path(path), logged=True)
    if key != shared_key(target):
        raise LogSettingError(f"QUESTION_LOG_KEY is not the key of the SQLite log at {path}, so its members' hashes "
                              "would match nobody in PostgreSQL. Set QUESTION_LOG_KEY to that key, in hexadecimal: "
                              f"python -c \"print(open('{key_path(path)}', 'rb').read().hex())\"")
    with contextlib.closing(open_migrated(Location(path=path))[0]) as sqlite, \
            contextlib.closing(open_migrated(target)[0]) as postgres:
        added = copy_rows(sqlite, postgres)
    print_added(f"Copied the question log at {path} into {target}", added, as_json, {"from": str(path),
                                                                                     "to": str(target)})
    return 0


def print_added(done: str, added: dict[str, int], as_json: bool, where: dict[str, str]) -> None:
    """What a copy or an import added: one line, or one JSON object with `where` it went."""
    if as_json:
        print(json.dumps({**where, "added": added}, ensure_ascii=False))
    else:
        counts = ", ".join(f"{count:,} {name}" for name, count in added.items())
        print(f"{done}: added {counts}. Rows it held already were left as they were.")


def copy_rows(source: Database, target: Database) -> dict[str, int]:
    """Every row of `source` that `target` lacks, in one transaction; how many of each table were added."""
    before = {table: _count(target, table) for table in COLUMNS}
    with target.transaction():
        target.executemany("INSERT INTO wordings (wording, model, vector) VALUES (?, ?, ?) ON CONFLICT (wording) "
                           "DO NOTHING", source.fetchall("SELECT wording, model, vector FROM wordings"))
        ids: dict[str, int] = dict(target.fetchall("SELECT wording, id FROM wordings"))
        wordings = {old: ids[text] for old, text in source.fetchall("SELECT id, wording FROM wordings")}
        questions = COLUMNS["questions"]
        at = questions.index("wording_id")
        target.executemany(
            f"INSERT INTO questions ({', '.join(questions)}) VALUES ({', '.join('?' * len(questions))}) "
            "ON CONFLICT (id) DO NOTHING",
            [(*row[:at], None if row[at] is None else wordings[row[at]], *row[at + 1:])
             for row in source.fetchall(f"SELECT {', '.join(questions)} FROM questions")])
        for table in ("quoted", "votes"):
            columns = COLUMNS[table]
            target.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                               f"ON CONFLICT ({KEYS[table]}) DO NOTHING",
                               source.fetchall(f"SELECT {', '.join(columns)} FROM {table}"))
    return {"questions": _count(target, "questions") - before["questions"],
            "votes": _count(target, "votes") - before["votes"],
            "passages quoted": _count(target, "quoted") - before["quoted"],
            "wordings": _count(target, "wordings") - before["wordings"]}


def _count(database: Database, table: str) -> int:
    row = database.fetchone(f"SELECT count(*) FROM {table}")
    return 0 if row is None else int(row[0])
