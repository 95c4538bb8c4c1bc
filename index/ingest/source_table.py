"""Writing the seeds folder: `sources.toml` rewritten under the folder's lock, and every file written whole.

A file is written to a temporary file beside it and moved into place with `os.replace`, so a build reading the
folder meanwhile sees the old version or the new one, never half of either. The folder is locked (`flock`) while
`sources.toml` is rewritten, so two moderators' edits cannot lose each other's.

`sources.toml` is edited in place with tomlkit: a moderator's comments, the order of the entries and the way each
value is written stay as they were.
"""

import contextlib
import fcntl
import os
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from index.ingest.corpus import METADATA_FILE, CorpusError, read_capped, read_table
from index.ingest.source_fields import SourceError


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


def set_entry(seeds_dir: Path, source_id: str, entry: dict[str, Any] | None) -> None:
    """Sets a source's entry in `sources.toml` to these fields, or (None, or none) drops it. Everything else in the
    file stays as the moderators wrote it: comments, order, quoting and spacing; a new entry goes at the end."""
    path = seeds_dir / METADATA_FILE
    try:
        document = tomlkit.parse(read_capped(path).decode("utf-8")) if path.exists() else tomlkit.document()
    except (CorpusError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise SourceError(f"{METADATA_FILE} cannot be rewritten ({exc}); fix it before adding sources.") from exc
    if not entry:
        if source_id not in document:
            return
        del document[source_id]
    else:
        table = document.get(source_id)
        if not isinstance(table, Table):
            document[source_id] = table = tomlkit.table()
        for key in [key for key in table if key not in entry]:
            del table[key]
        for key, value in entry.items():
            if key not in table or table[key].unwrap() != value:  # an unchanged value keeps its comment
                table[key] = value
    content = tomlkit.dumps(document)
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
