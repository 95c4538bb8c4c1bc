"""The corpus on disk: one UTF-8 text file per source (its file name is its id) and `sources.toml` beside them."""

import errno
import hashlib
import logging
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.ingest.cleaning import first_heading, looks_like_html

log = logging.getLogger(__name__)

METADATA_FILE = "sources.toml"
MAX_FILE_BYTES = 5 * 1024 * 1024
_FIELDS = ("title", "outlet", "author", "published", "url")
NOT_STATED = "not_stated"  # an entry's list of the fields its article does not give (see index/builds/reasons.py)
# Embeddings, overrides and isolates of the Unicode bidirectional algorithm (LRE…RLO, LRI…PDI).
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@dataclass(frozen=True)
class Source:
    """Who said it, where and when: what every quote is shown with."""

    id: str
    title: str
    outlet: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "title": self.title, "outlet": self.outlet, "author": self.author,
                "published": self.published, "url": self.url}


@dataclass(frozen=True)
class Document:
    source: Source
    text: str

    @property
    def digest(self) -> str:
        """Content hash of the text and its metadata: a change to either re-indexes the document."""
        meta = "\x1f".join(str(getattr(self.source, f) or "") for f in _FIELDS)
        return hashlib.sha256(f"{meta}\x1e{self.text}".encode()).hexdigest()


class CorpusError(Exception):
    """A source file that cannot be indexed; the message says why in words a moderator can act on."""


def read_table(seeds_dir: Path) -> dict[str, dict[str, Any]]:
    """The entries of `sources.toml` as written, by source id; empty when there is no such file."""
    path = seeds_dir / METADATA_FILE
    if not path.exists():
        return {}
    try:
        table = read_toml(path)
    except ValueError as exc:
        raise CorpusError(f"{METADATA_FILE} is not valid TOML: {exc}") from exc
    return {sid: entry for sid, entry in table.items() if isinstance(entry, dict)}


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file of the seeds folder, read within MAX_FILE_BYTES. Whatever makes it unreadable as TOML (bad
    syntax, not UTF-8, too large, nested past what the parser's recursion allows) is a ValueError saying so."""
    try:
        return tomllib.loads(read_capped(path).decode("utf-8"))
    except CorpusError as exc:
        raise ValueError(str(exc)) from exc
    except RecursionError as exc:  # tomllib parses nested arrays and tables by recursion
        raise ValueError("it is nested too deeply (arrays or tables within each other)") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not valid UTF-8 (byte {exc.start})") from exc


def read_metadata(seeds_dir: Path) -> dict[str, dict[str, str]]:
    """The known, non-empty metadata fields of each source, as strings."""
    return {sid: {k: str(v) for k, v in entry.items() if k in _FIELDS and str(v).strip()}
            for sid, entry in read_table(seeds_dir).items()}


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise CorpusError(f"the file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")


def decode(data: bytes) -> str:
    """The text of a source file, or a CorpusError naming what is wrong with it."""
    check_size(len(data))
    if not data.strip():
        raise CorpusError("the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CorpusError("the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise CorpusError("the file is binary, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"the file is not valid UTF-8 (byte {exc.start})") from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if looks_like_html(text):
        raise CorpusError("the file is an HTML page, not the article's text: add it as an .html file (its article "
                          "is then read out of it), or save the article as plain text and add that .txt")
    return text


def make_document(source_id: str, text: str, metadata: dict[str, str]) -> Document:
    """The document with its metadata; without a title, the page's first heading or the file name stands in.
    Bidirectional controls are taken out of the metadata: a right-to-left override would show a title reversed."""
    title = _undirected(metadata.get("title") or first_heading(text) or Path(source_id).stem)
    fields = {k: _undirected(metadata[k]) if metadata.get(k) else None for k in _FIELDS if k != "title"}
    return Document(Source(id=source_id, title=title, **fields), text)


def _undirected(value: str) -> str:
    return value.translate(_BIDI_CONTROLS)


def read_capped(path: Path, *, flags: int = 0) -> bytes:
    """The file's bytes, or a CorpusError once they pass MAX_FILE_BYTES: no more than that is read, whatever size
    the file system reports (files in /proc report 0). `flags` are added to os.open's. Opened without blocking, so
    a named pipe put in the file's place is refused rather than waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | flags)
    with os.fdopen(fd, "rb") as f:
        problem = _not_a_file(os.fstat(fd).st_mode)
        if problem:
            raise CorpusError(problem)
        data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            check_size(max(len(data), os.fstat(f.fileno()).st_size))  # names the whole size, where it is known
    return data


def load_document(path: Path, metadata: dict[str, str]) -> Document:
    """The source file `path` of the seeds folder; a link that leads out of that folder is refused, for what it
    leads to was never put in the corpus (an operator's notes, a file of the system)."""
    try:
        problem = _not_a_file(path.stat().st_mode)
    except OSError as exc:
        raise CorpusError(_unreachable(path, exc)) from exc
    if problem:
        raise CorpusError(problem)
    real = path.resolve()
    if not real.is_relative_to(path.parent.resolve()):
        raise CorpusError("the file is a link to a file outside the seeds folder, which is never indexed; copy the "
                          "article into the folder instead")
    # O_NOFOLLOW: a link put in place of the resolved file since is not followed either
    return make_document(path.name, decode(read_capped(real, flags=os.O_NOFOLLOW)), metadata)


def _not_a_file(mode: int) -> str | None:
    """Why an entry named *.txt is no file to read (a folder, a named pipe, a device), or None for a file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file; rename it, or move the articles in it into the seeds folder"
    if stat.S_ISFIFO(mode):
        return "it is a named pipe (FIFO), not a file; put the article's text in a file of that name"
    return "it is a device or a socket, not a file"


def _unreachable(path: Path, error: OSError) -> str:
    """Why a link named *.txt leads to no file: to nothing, or round in a loop."""
    if error.errno == errno.ELOOP:
        return "the file is a link that leads back to itself (a loop of links); replace it with the article"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"the file is a link to {os.readlink(path)}, which does not exist; replace it with the article"
    return f"cannot read the file: {error.strerror}"


def source_paths(seeds_dir: Path) -> list[Path]:
    if seeds_dir.exists() and not seeds_dir.is_dir():
        raise CorpusError(f"SEEDS_DIR is {seeds_dir}, which is a file, not a folder: set SEEDS_DIR to the folder "
                          "that holds the corpus's .txt files.")
    if not seeds_dir.is_dir():
        raise CorpusError(f"SEEDS_DIR is {seeds_dir}, which does not exist: set SEEDS_DIR to the folder that holds "
                          "the corpus's .txt files (a relative path is read from the project folder).")
    # Every entry named *.txt, whatever it is: the build says of each one it cannot read why (load_document).
    return sorted(seeds_dir.glob("*.txt"))
