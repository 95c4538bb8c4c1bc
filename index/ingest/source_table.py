"""Writing the seeds folder: `sources.toml` rewritten under the folder's lock, and every file written whole.

A file is written to a temporary file beside it and moved into place with `os.replace`, so a build reading the
folder meanwhile sees the old version or the new one, never half of either. The folder is locked (`flock`) while
`sources.toml` is rewritten, so two moderators' edits cannot lose each other's.

`sources.toml` is rewritten from its parsed values: the comment block at its top is kept, other comments and
formatting are not; keys that need quotes keep them.
"""

import contextlib
import fcntl
import os
import re
import tomllib
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from index.ingest.corpus import METADATA_FILE, CorpusError, read_table
from index.ingest.source_fields import SourceError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


@contextlib.contextmanager
def locked(seeds_dir: Path) -> Iterator[None]:
    """The seeds folder, locked against other edits while the block runs."""
    if not seeds_dir.is_dir():
        raise SourceError("The seeds folder (SEEDS_DIR) does not exist on the server.")
    fd = os.open(seeds_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds, so waiting is fine
        yield
    finally:
        os.close(fd)


def read_entries(seeds_dir: Path) -> dict[str, dict[str, Any]]:
    """The entries of `sources.toml` by source id, or a SourceError saying to fix a file that cannot be read."""
    try:
        return read_table(seeds_dir)
    except CorpusError as exc:
        raise SourceError(f"{exc}; fix it before adding sources.") from exc


def _toml_key(key: str) -> str:
    """A key as TOML needs it written: bare where it may be, quoted otherwise (a dot would nest a table)."""
    return key if _BARE_KEY.fullmatch(key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return '"' + "".join(_TOML_ESCAPES.get(c) or (f"\\u{ord(c):04X}" if unicodedata.category(c) == "Cc" else c)
                         for c in text) + '"'


def write_entries(seeds_dir: Path, table: dict[str, dict[str, Any]]) -> None:
    """Rewrites `sources.toml` with these entries."""
    path = seeds_dir / METADATA_FILE
    header: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                break
            header.append(line)
    while header and not header[-1].strip():
        header.pop()
    blocks = ["\n".join(header)] if header else []
    for source_id in sorted(table):
        lines = [f"[{_toml_key(source_id)}]"]
        lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in table[source_id].items()]
        blocks.append("\n".join(lines))
    content = "\n\n".join(blocks) + "\n"
    tomllib.loads(content)  # what we write must read back
    with staged(path, content.encode("utf-8")) as commit:
        commit()


@contextlib.contextmanager
def staged(path: Path, data: bytes) -> Iterator[Callable[[], None]]:
    """Writes `data` beside `path`; calling the yielded function moves it into place, else it is dropped."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    with temp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    done = False

    def commit() -> None:
        nonlocal done
        os.replace(temp, path)
        fsync_dir(path.parent)
        done = True

    try:
        yield commit
    finally:
        if not done:
            temp.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Makes a move or a deletion in the folder durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
