"""Adding and removing sources in the seeds folder: the Discord-free half of the moderators' upload commands.

A source is a UTF-8 text file in SEEDS_DIR, its file name its id, and an entry in `sources.toml`. Both are
written whole to a temporary file and moved into place with `os.replace`, so a build reading the folder
meanwhile sees the old version or the new one, never half of either. The folder is locked (`flock`) while
`sources.toml` is rewritten, so two moderators' edits cannot lose each other's. Nothing here reindexes:
the caller decides when to build.

`sources.toml` is rewritten from its parsed values: the comment block at its top is kept, other comments
and formatting are not; keys that need quotes keep them.
"""

import contextlib
import fcntl
import logging
import os
import re
import tomllib
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.ingest.chunking import chunk_document
from index.ingest.confusables import lookalike
from index.ingest.corpus import METADATA_FILE, NOT_STATED, CorpusError, Source, decode, make_document, read_table
from index.ingest.twins import find_twin

log = logging.getLogger(__name__)

# In UTF-8 bytes: the file system's limit is 255 bytes, and a source id is a Discord choice value (100 at most).
MAX_NAME_BYTES = 100
MAX_FIELD_CHARS = 256
MAX_URL_CHARS = 2000
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.-]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# What a web address may hold (RFC 3986), which is also what Discord accepts as an embed's url.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class SourceError(ValueError):
    """An upload or removal that cannot be done; the message tells the moderator what to change."""


class SourceExists(SourceError):
    """A different source already has this name; adding it again needs `replace=True`."""


class SourceDuplicate(SourceExists):
    """Another source is the same article (the same address, or nearly the same text); `source_id` names it."""

    def __init__(self, message: str, source_id: str) -> None:
        super().__init__(message)
        self.source_id = source_id

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.source_id)


class SourceNotFound(SourceError):
    """No source has this id."""


@dataclass(frozen=True)
class SourceChange:
    """What an add or remove did: `action` is "added", "replaced" or "removed"; `message` is for people.

    `kept` names the metadata fields a replace kept from the source it replaced, since they were not given.
    """

    action: str
    source: Source
    size: int
    message: str
    kept: tuple[str, ...] = ()

    @property
    def kept_note(self) -> str:
        """The sentence telling a moderator which fields the replaced source passed on; empty when none."""
        return _kept_note(self.kept)


def _kept_note(kept: tuple[str, ...]) -> str:
    if not kept:
        return ""
    fields = ", ".join(kept[:-1]) + " and " + kept[-1] if len(kept) > 1 else kept[0]
    return f"It keeps the earlier {fields}, since this upload did not give them: check they still fit."


def safe_name(filename: str, kinds: tuple[str, ...] = ("txt",)) -> str:
    """The source id for an uploaded file name: a plain name ending in one of `kinds`, as a .txt name; or a
    SourceError."""
    name = unicodedata.normalize("NFKC", filename).strip()  # NFKC folds look-alikes such as "／" into "/"
    if "/" in name or "\\" in name or "\x00" in name:
        raise SourceError(f"{filename!r} is a path; give a plain file name such as article.txt.")
    stem, dot, extension = name.rpartition(".")
    if not dot or extension.lower() not in kinds:
        if kinds == ("txt",):
            raise SourceError(f"{filename!r} is not a .txt file; only UTF-8 text files can be added.")
        named = ", ".join(f".{kind}" for kind in kinds[:-1])
        raise SourceError(f"{filename!r} is not a {named} or .{kinds[-1]} file; only those can be added.")
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).strip("._-")
    if not stem:
        raise SourceError(f"{filename!r} has no usable name before .{extension}.")
    name = f"{stem}.txt"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise SourceError(f"The file name is {size} bytes long in UTF-8; keep it within {MAX_NAME_BYTES} "
                          "(a letter outside the Latin alphabet takes 2 to 4 bytes).")
    return name


def add_source(seeds_dir: Path, data: bytes, filename: str, *, actor: str, title: str | None = None,
               outlet: str | None = None, author: str | None = None, published: str | None = None,
               url: str | None = None, replace: bool = False, free_name: bool = False) -> SourceChange:
    """Checks an uploaded text file and its metadata, then writes both into the seeds folder.

    Raises SourceExists when the name is taken and `replace` is false, SourceDuplicate when another source is the
    same article (then `replace` replaces that one), SourceError for any other bad input. On replace, metadata
    fields not given keep their earlier values. With `free_name` (a name Dossier chose, for a link), a name taken
    by another article gives way to a free one, `-2` added.
    """
    source_id = safe_name(filename)
    try:
        text = decode(data)
    except CorpusError as exc:
        raise SourceError(f"{source_id}: {exc}.") from exc
    given = metadata_fields(title=title, outlet=outlet, author=author, published=published, url=url)
    with _locked(seeds_dir):
        table = _read_table(seeds_dir)
        names = sorted(p.name for p in seeds_dir.glob("*.txt"))
        if not free_name and source_id not in names and (twin := lookalike(source_id, names)):
            raise SourceError(f"{source_id} looks like the existing source {twin} but is another name. "
                              f"Rename the file, or upload it as {twin} with replace: True to replace that one.")
        source_id = _article_id(seeds_dir, table, source_id, text, given.get("url"), replace, free_name)
        path = seeds_dir / source_id
        exists = path.exists()
        if exists and not replace:
            raise SourceExists(f"A source named {source_id} already exists; replace it explicitly, "
                               "or rename the file.")
        kept = tuple(k for k in table.get(source_id, {}) if k not in given and k != NOT_STATED) if exists else ()
        entry = {**table.get(source_id, {}), **given} if exists else given
        doc = make_document(source_id, text, {k: str(v) for k, v in entry.items()})
        try:
            chunks = chunk_document(doc)
        except CorpusError as exc:
            raise SourceError(f"{source_id}: {exc}.") from exc
        if not chunks:
            raise SourceError(f"{source_id}: no article text found, only headings, site chrome or comments.")
        with _staged(path, data) as commit:
            if entry:
                table[source_id] = entry
            else:
                table.pop(source_id, None)
            _write_table(seeds_dir, table)
            commit()
    action = "replaced" if exists else "added"
    log.info("source %s %s by %s (%d bytes)", source_id, action, actor, len(data))
    message = " ".join(filter(None, [f"{action.capitalize()} “{doc.source.title}” as {source_id} "
                                     f"({_size(len(data))}).", _kept_note(kept),
                                     "It becomes searchable at the next reindex."]))
    return SourceChange(action, doc.source, len(data), message, kept)


def _article_id(seeds_dir: Path, table: dict[str, dict[str, Any]], source_id: str, text: str, url: str | None,
                replace: bool, free_name: bool) -> str:
    """The id to write the article as: the source that already is this article, when replacing it; else the name
    given, or the first free one after it when Dossier chose it. SourceDuplicate when a twin stands in the way."""
    twin = find_twin(seeds_dir, table, text, url)
    if twin is not None and (twin.source_id != source_id or free_name):
        already = f"This article is already in the corpus as {twin.source_id} ({twin.why})"
        if not replace:
            raise SourceDuplicate(f"{already}.", twin.source_id)
        if (seeds_dir / source_id).exists() and not free_name:
            raise SourceError(f"{already}, so it cannot also replace {source_id}: remove one of the two first.")
        return twin.source_id
    if not free_name:
        return source_id
    stem, number = source_id.removesuffix(".txt"), 1
    names = sorted(p.name for p in seeds_dir.glob("*.txt"))
    while (seeds_dir / source_id).exists() or lookalike(source_id, names):
        number += 1
        source_id = f"{stem[:MAX_NAME_BYTES - 12]}-{number}.txt"
    return source_id


def remove_source(seeds_dir: Path, source_id: str, *, actor: str) -> SourceChange:
    """Deletes a source's file and its metadata entry; it leaves the index at the next reindex."""
    if safe_name(source_id) != source_id:
        raise SourceNotFound(f"There is no source with the id {source_id!r}.")
    with _locked(seeds_dir):
        table = _read_table(seeds_dir)
        path = seeds_dir / source_id
        if not path.is_file():
            raise SourceNotFound(f"There is no source with the id {source_id!r}.")
        size = path.stat().st_size
        entry = {k: str(v) for k, v in table.get(source_id, {}).items()}
        title = entry.get("title") or source_id
        path.unlink()
        _fsync_dir(seeds_dir)
        if table.pop(source_id, None) is not None:
            _write_table(seeds_dir, table)
    log.info("source %s removed by %s (%d bytes)", source_id, actor, size)
    source = Source(id=source_id, title=title, outlet=entry.get("outlet"), author=entry.get("author"),
                    published=entry.get("published"), url=entry.get("url"))
    return SourceChange("removed", source, size,
                        f"Removed “{title}” ({source_id}). It leaves the index at the next reindex.")


def metadata_fields(**fields: str | None) -> dict[str, str]:
    """The metadata given for a source, whitespace collapsed and blanks dropped; a SourceError if any is invalid."""
    out = {}
    for key, raw in fields.items():
        if raw is None:
            continue
        value = " ".join(raw.split())
        if not value:
            continue
        if any(unicodedata.category(c).startswith("C") for c in value):
            raise SourceError(f"The {key} contains control characters.")
        limit = MAX_URL_CHARS if key == "url" else MAX_FIELD_CHARS
        if len(value) > limit:
            raise SourceError(f"The {key} is {len(value)} characters long; keep it under {limit}.")
        if key == "published":
            _check_date(value)
        if key == "url":
            _check_url(value)
        out[key] = value
    return out


def _check_date(value: str) -> None:
    try:
        valid = bool(_DATE.fullmatch(value)) and bool(date.fromisoformat(value))
    except ValueError:  # 2021-02-30 and the like
        valid = False
    if not valid:
        raise SourceError(f"The published date {value!r} is not a date written YYYY-MM-DD.")


def url_problem(value: str) -> str | None:
    """What is wrong with `value` as a source's url, or None when Discord will take it as a link and embed url.

    Strict on purpose: a url that Discord refuses would make every answer quoting the source fail.
    """
    if any(c.isspace() for c in value):
        return "contains spaces"
    if not value.isascii():
        return "has characters outside ASCII; copy it from the browser's address bar, which percent-encodes them"
    if not _URL_CHARS.fullmatch(value):
        return f"contains {next(c for c in value if not _URL_CHARS.fullmatch(c))!r}, which a web address cannot hold"
    if _BAD_PERCENT.search(value):
        return "has a % that is not followed by two hex digits"
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return "is not an http(s) address"
        if parts.username is not None or parts.password is not None:
            return "carries a user name or password"
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "is not a valid address"
    labels = (parts.hostname or "").split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return "does not name a host such as example.com"
    return None


def _check_url(value: str) -> None:
    problem = url_problem(value)
    if problem:
        raise SourceError(f"The url {value!r} {problem}; give the article's https:// address.")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


@contextlib.contextmanager
def _locked(seeds_dir: Path) -> Iterator[None]:
    if not seeds_dir.is_dir():
        raise SourceError("The seeds folder (SEEDS_DIR) does not exist on the server.")
    fd = os.open(seeds_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds, so waiting is fine
        yield
    finally:
        os.close(fd)


def _read_table(seeds_dir: Path) -> dict[str, dict[str, Any]]:
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


def _write_table(seeds_dir: Path, table: dict[str, dict[str, Any]]) -> None:
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
    with _staged(path, content.encode("utf-8")) as commit:
        commit()


@contextlib.contextmanager
def _staged(path: Path, data: bytes) -> Iterator[Callable[[], None]]:
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
        _fsync_dir(path.parent)
        done = True

    try:
        yield commit
    finally:
        if not done:
            temp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
