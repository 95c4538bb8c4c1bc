"""The reading stage: each source read against the live generation, which tells the records a build keeps
(unchanged, or the last good version of a source that can no longer be read) from the new ones it writes."""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from index.builds.report import BuildReport, Progress, ProgressFn
from index.ingest.chunking import Chunk, chunk_document, layout_warning
from index.ingest.corpus import CorpusError, Document, load_document
from index.store.passages import Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """What the seeds folder changes in the live generation."""

    keep: list[Record]  # live records carried over untouched
    fresh: list[tuple[Record, str]]  # the new generation's new records, with their texts
    replaced: list[str]  # the ids of the live records that die with the new generation

    @property
    def new_records(self) -> list[Record]:
        return [record for record, _ in self.fresh]

    @property
    def documents(self) -> int:
        return len({r.source.id for r in self.keep} | {r.source.id for r, _ in self.fresh})


def read_changes(paths: list[Path], metadata: dict[str, dict[str, str]], live: dict[str, list[Record]],
                 generation: int, report: BuildReport, tell: ProgressFn) -> Changes:
    """Reads every source against the live records (by source), and counts what was removed, added, changed,
    kept, and the new generation's documents and passages in the report."""
    keep, fresh = _read(paths, metadata, live, generation, report, tell)
    on_disk = {path.name for path in paths}
    report.removed = sum(1 for source_id in live if source_id not in on_disk)
    kept_ids = {r.record_id for r in keep}
    replaced = [r.record_id for records in live.values() for r in records if r.record_id not in kept_ids]
    changes = Changes(keep, fresh, replaced)
    report.documents, report.chunks = changes.documents, len(keep) + len(fresh)
    return changes


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _unchanged(previous: list[Record], doc: Document, chunks: list[Chunk]) -> bool:
    """Same text and metadata, cut into the same passages (the chunker may have changed since)."""
    if any(r.doc_digest != doc.digest for r in previous):
        return False
    stored = sorted((r.chunk.id, r.chunk.start, r.chunk.end, r.chunk.item) for r in previous)
    return stored == sorted((c.id, c.start, c.end, c.item) for c in chunks)


def _records(doc: Document, chunks: list[Chunk], generation: int) -> list[tuple[Record, str]]:
    return [(Record(f"g{generation}:{c.id}", c, doc.source, doc.digest, _digest(c.text), generation), c.text)
            for c in chunks]


def _read(paths: list[Path], metadata: dict[str, dict[str, str]], live: dict[str, list[Record]], generation: int,
          report: BuildReport, tell: ProgressFn) -> tuple[list[Record], list[tuple[Record, str]]]:
    """Reads every source: the live records it keeps (unchanged, or a last good version of one that can no longer
    be read), and the new records of the others, with their texts. Counts each in the report."""
    keep: list[Record] = []
    fresh: list[tuple[Record, str]] = []
    for done, path in enumerate(paths, 1):
        tell(Progress("reading", done, len(paths)))
        previous = live.get(path.name, [])
        try:
            doc = load_document(path, metadata.get(path.name, {}))
            chunks = chunk_document(doc)
            if not chunks:
                raise CorpusError("no article text found: only site chrome, captions or comments")
            warning = layout_warning(chunks)
            if warning:
                report.warnings.append({"source": path.name, "warning": warning})
        except (CorpusError, OSError) as exc:
            error = str(exc) if isinstance(exc, CorpusError) else f"cannot read the file: {exc.strerror}"
            report.errors.append({"source": path.name, "error": error})
            if previous:
                log.warning("%s: %s; its last good version stays live", path.name, error)
                keep.extend(previous)
            continue
        if previous and _unchanged(previous, doc, chunks):
            report.unchanged += 1
            keep.extend(previous)
            continue
        if previous:
            report.changed += 1
        else:
            report.added += 1
        fresh.extend(_records(doc, chunks, generation))
    return keep, fresh
