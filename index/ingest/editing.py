"""Adding and removing sources in the seeds folder: the Discord-free half of the moderators' upload commands.

A source is a UTF-8 text file in SEEDS_DIR, its file name its id, and an entry in `sources.toml`; what a moderator
gives is checked first (index/ingest/source_fields.py), and both are written whole under the folder's lock
(index/ingest/source_table.py). Nothing here reindexes: the caller decides when to build.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.ingest.chunking import chunk_document
from index.ingest.confusables import lookalike
from index.ingest.corpus import NOT_STATED, CorpusError, Source, decode, make_document
from index.ingest.source_fields import MAX_NAME_BYTES, SourceError, metadata_fields, safe_name
from index.ingest.source_table import fsync_dir, locked, read_entries, set_entry, staged
from index.ingest.twins import find_twin

log = logging.getLogger(__name__)


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
    with locked(seeds_dir):
        table = read_entries(seeds_dir)
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
        with staged(path, data) as commit:
            set_entry(seeds_dir, source_id, entry)
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
    with locked(seeds_dir):
        table = read_entries(seeds_dir)
        path = seeds_dir / source_id
        if not path.is_file():
            raise SourceNotFound(f"There is no source with the id {source_id!r}.")
        size = path.stat().st_size
        entry = {k: str(v) for k, v in table.get(source_id, {}).items()}
        title = entry.get("title") or source_id
        path.unlink()
        fsync_dir(seeds_dir)
        if source_id in table:
            set_entry(seeds_dir, source_id, None)
    log.info("source %s removed by %s (%d bytes)", source_id, actor, size)
    source = Source(id=source_id, title=title, outlet=entry.get("outlet"), author=entry.get("author"),
                    published=entry.get("published"), url=entry.get("url"))
    return SourceChange("removed", source, size,
                        f"Removed “{title}” ({source_id}). It leaves the index at the next reindex.")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"
