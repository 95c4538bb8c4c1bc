"""`python -m bot log import FILE`: puts the rows of a `log export --json` back into the log the settings name.

The export is read whole and checked before anything is written: its first line says it is an export of this
schema; every other line is one row of a known table with exactly that table's columns, each of its type. The rows
go into a scratch SQLite log first, where the schema's own constraints (keys, references, NOT NULL) check them,
then into the log through the same statements as `log copy`, in one transaction: rows the log holds already (the
same question, vote or passage quoted; the same wording) are left as they are, so importing twice adds nothing the
second time, and a file with one bad line adds nothing at all.

Members and messages are keyed hashes in the export, so the log must have the key they were made with: the key
file beside a SQLite log (copy it there first), or QUESTION_LOG_KEY. The export carries the key's check (an HMAC
of a fixed text, as the log keeps it), and a log with another key is refused.
"""

import base64
import binascii
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.questionlog.cli import COLUMNS, copy_rows, print_added
from bot.questionlog.database import Location, LogDatabaseError, LogSettingError, QuestionLogError
from bot.questionlog.keys import key_check, key_path, read_key, shared_key
from bot.questionlog.schema import LATEST, migrate, open_migrated
from bot.questionlog.sqlite import SQLiteDatabase
from bot.settings import Settings

INTEGER, REAL, TEXT, BLOB = int, float, str, bytes
TYPES: dict[str, type] = {
    "id": INTEGER, "wording": TEXT, "model": TEXT, "vector": BLOB, "asked_at": REAL, "guild_id": INTEGER,
    "channel_id": INTEGER, "user_hash": TEXT, "message_hash": TEXT, "via": TEXT, "question": TEXT,
    "wording_id": INTEGER, "private": INTEGER, "outcome": TEXT, "missing": TEXT, "generation": INTEGER,
    "latency_ms": REAL, "question_id": INTEGER, "rank": INTEGER, "chunk_id": TEXT, "source_id": TEXT,
    "helpful": INTEGER, "voted_at": REAL,
}
Numbered = tuple[int, tuple[Any, ...]]  # a row's line in the file, and its values in COLUMNS' order


class ExportFileError(QuestionLogError):
    """The file is not an export this Dossier can import; the message names the line and what is wrong."""


def import_command(settings: Settings, source: str, as_json: bool) -> int:
    """Imports the export at `source` (`-`: stdin) into the log; prints what it added."""
    where = Location.of(settings)
    name = "stdin" if source == "-" else source
    header, rows = read_export(_lines(source), name)
    key = _key(where)
    if "key_check" in header and header["key_check"] != key_check(key):
        error = LogSettingError if where.postgres else QuestionLogError
        raise error(f"{name} was exported from a log with another key than {_key_name(where)}: its members' hashes "
                    "would match nobody. Put the exported log's key there, then import again")
    with tempfile.TemporaryDirectory(prefix="dossier-import-") as scratch:
        staged = SQLiteDatabase(Location(path=Path(scratch) / "import.sqlite3"))
        with contextlib.closing(staged):
            migrate(staged, key)
            stage(staged, rows, name)
            with contextlib.closing(open_migrated(where)[0]) as target:
                added = copy_rows(staged, target)
    print_added(f"Imported {name} into the question log at {where}", added, as_json, {"from": name,
                                                                                       "to": str(where)})
    return 0


def _lines(source: str) -> Iterable[str]:
    if source == "-":
        return sys.stdin
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ExportFileError(f"cannot read {source}: {error}") from error


def _key(where: Location) -> bytes:
    """The key of the log to import into; a SQLite log's key file must be there already (copied with the backup)."""
    if where.postgres:
        return shared_key(where)
    assert where.path is not None
    if not key_path(where.path).exists():
        raise QuestionLogError(f"there is no key file at {key_path(where.path)}: copy there the key file of the log "
                               "that was exported (its members' hashes were made with it), then import again")
    return read_key(key_path(where.path), logged=True)


def _key_name(where: Location) -> str:
    return "QUESTION_LOG_KEY" if where.postgres or where.path is None else str(key_path(where.path))


def read_export(lines: Iterable[str], name: str) -> tuple[dict[str, Any], dict[str, list[Numbered]]]:
    """The export's first line, and its rows by table; ExportFileError at the first line that is not right."""
    header: dict[str, Any] | None = None
    rows: dict[str, list[Numbered]] = {table: [] for table in COLUMNS}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            found = json.loads(line)
        except ValueError as error:
            raise ExportFileError(f"{name}, line {number}: not JSON ({error})") from None
        if header is None:
            header = _header(found, name)
            continue
        table = found.get("table") if isinstance(found, dict) else None
        if table not in COLUMNS:
            raise ExportFileError(f"{name}, line {number}: not a row of the question log's tables "
                                  f"({', '.join(COLUMNS)})")
        rows[table].append((number, _row(found, table, f"{name}, line {number}")))
    if header is None:
        raise ExportFileError(f"{name} is empty: an export of the question log is what `python -m bot log export "
                              "--json` prints")
    return header, rows


def _header(found: Any, name: str) -> dict[str, Any]:
    if not isinstance(found, dict) or found.get("table") != "log":
        raise ExportFileError(f"{name} is not an export of the question log: its first line should be "
                              '{"table": "log", "schema": …}, as `python -m bot log export --json` prints')
    if found.get("schema") != LATEST:
        raise ExportFileError(f"{name} was exported from a log of schema {found.get('schema')!r}, and this Dossier "
                              f"imports schema {LATEST}: import it with the version that exported it, or migrate "
                              "that log (`python -m bot log migrate`) and export it again")
    return found


def _row(found: dict[str, Any], table: str, where: str) -> tuple[Any, ...]:
    """The row's values in COLUMNS' order, each checked against its column's type (None is left to the schema)."""
    columns = COLUMNS[table]
    missing = [column for column in columns if column not in found]
    unknown = sorted(set(found) - {"table", *columns})
    if missing or unknown:
        said = "; ".join(part for part in (missing and f"it lacks {', '.join(missing)}",
                                           unknown and f"it has no column {', '.join(unknown)}") if part)
        raise ExportFileError(f"{where}: a row of {table} has the columns {', '.join(columns)}: {said}")
    return tuple(_value(found[column], column, where) for column in columns)


def _value(value: Any, column: str, where: str) -> Any:
    kind = TYPES[column]
    if value is None:
        return None
    if kind is BLOB and isinstance(value, str):
        with contextlib.suppress(binascii.Error):
            return base64.b64decode(value, validate=True)
    elif isinstance(value, kind if kind is not REAL else (int, float)) and not isinstance(value, bool):
        return value
    wanted = {INTEGER: "a whole number", REAL: "a number", TEXT: "text", BLOB: "base64 text"}[kind]
    raise ExportFileError(f"{where}: {column} must be {wanted}, not {json.dumps(value)[:40]}")


def stage(database: SQLiteDatabase, rows: dict[str, list[Numbered]], name: str) -> None:
    """Writes the rows into the scratch log, tables in the order their references need; the schema's constraints
    name the first line that breaks one."""
    with database.transaction():
        for table, numbered in rows.items():
            columns = COLUMNS[table]
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for number, values in numbered:
                try:
                    database.execute(sql, values)
                except LogDatabaseError as error:
                    raise ExportFileError(f"{name}, line {number}: the row cannot be imported ({error}); "
                                          "each row must have its own key and refer to rows the export holds") from None
