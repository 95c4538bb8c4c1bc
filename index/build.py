"""Builds or updates the index from the seeds folder: load → clean → chunk → embed → store, incrementally."""

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import Chunk, chunk_document
from index.corpus import CorpusError, Document, load_document, read_metadata, source_paths
from index.embedding import Embedder
from index.store import Pointer, Record, Store, StoreError, collection_name, live_filter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where a build is: `stage` is "reading", "embedding", "writing" or "validating"."""

    stage: str
    done: int
    total: int


ProgressFn = Callable[[Progress], None]


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    generation: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "chunks": self.chunks, "embedded": self.embedded,
                "removed": self.removed, "unchanged": self.unchanged, "added": self.added,
                "changed": self.changed, "errors": self.errors, "generation": self.generation,
                "seconds": round(self.seconds, 3)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(seeds_dir: Path, store: Store, embedder: Embedder, *, built_by: str = "command line",
          progress: ProgressFn | None = None) -> BuildReport:
    """Brings the live index in line with the seeds folder, embedding only passages it has not seen."""
    started = time.monotonic()
    report = BuildReport()
    tell = progress or (lambda _: None)
    store.clean_leftovers()
    pointer = store.pointer()
    name = collection_name(embedder.name)
    same_model = pointer is not None and pointer.model == embedder.name and pointer.collection == name
    old_generation = pointer.generation if pointer else 0
    generation = old_generation + 1
    collection = store.chunks_collection(name)

    live: dict[str, list[Record]] = defaultdict(list)
    if same_model:
        for record, _ in store.records(collection, old_generation):
            live[record.source.id].append(record)

    metadata = read_metadata(seeds_dir)
    paths = source_paths(seeds_dir)
    keep: list[Record] = []
    fresh: list[tuple[Record, str]] = []
    on_disk = set()
    for done, path in enumerate(paths, 1):
        tell(Progress("reading", done, len(paths)))
        on_disk.add(path.name)
        previous = live.get(path.name, [])
        try:
            doc = load_document(path, metadata.get(path.name, {}))
            chunks = chunk_document(doc)
            if not chunks:
                raise CorpusError("no article text found: only site chrome, captions or comments")
        except (CorpusError, OSError) as exc:
            report.errors.append({"source": path.name, "error": str(exc)})
            if previous:
                log.warning("%s: %s; its last good version stays live", path.name, exc)
                keep.extend(previous)
            continue
        if previous and previous[0].doc_digest == doc.digest:
            report.unchanged += 1
            keep.extend(previous)
            continue
        if previous:
            report.changed += 1
        else:
            report.added += 1
        fresh.extend(_records(doc, chunks, generation))

    report.removed = sum(1 for source_id in live if source_id not in on_disk)
    kept_ids = {r.record_id for r in keep}
    replaced = [r for records in live.values() for r in records if r.record_id not in kept_ids]
    reusable = {r.embed_digest: r.record_id for r in replaced}
    vectors = _vectors(store, collection, embedder, fresh, reusable, report, tell)

    tell(Progress("writing", 0, len(fresh)))
    new_records = [record for record, _ in fresh]
    store.add(collection, new_records, vectors)
    store.mark_died(collection, replaced, generation)
    tell(Progress("writing", len(fresh), len(fresh)))

    tell(Progress("validating", 0, 1))
    expected = len(keep) + len(new_records)
    _validate(store, collection, generation, expected, new_records or keep, vectors)
    documents = len({r.source.id for r in keep} | {r.source.id for r in new_records})
    store.switch(Pointer(collection=name, generation=generation, model=embedder.name, dimension=embedder.dimension,
                         built_at=datetime.now(UTC).isoformat(timespec="seconds"), built_by=built_by,
                         documents=documents, chunks=expected))
    tell(Progress("validating", 1, 1))
    report.documents, report.chunks, report.generation = documents, expected, generation
    report.seconds = time.monotonic() - started
    log.info("built generation %d: %s", generation, report.to_json())
    return report


def _records(doc: Document, chunks: list[Chunk], generation: int) -> list[tuple[Record, str]]:
    out = []
    for chunk in chunks:
        record = Record(f"g{generation}:{chunk.id}", chunk, doc.source, doc.digest, _digest(chunk.text), generation)
        out.append((record, chunk.text))
    return out


def _vectors(store: Store, collection: Any, embedder: Embedder, fresh: list[tuple[Record, str]],
             reusable: dict[str, str], report: BuildReport, tell: ProgressFn) -> np.ndarray:
    """Embeddings for the new records: copied where an identical passage was embedded before, else computed."""
    kept = store.embeddings(collection, [reusable[r.embed_digest] for r, _ in fresh if r.embed_digest in reusable])
    vectors = np.zeros((len(fresh), embedder.dimension), dtype=np.float32)
    todo = []
    for i, (record, text) in enumerate(fresh):
        old = reusable.get(record.embed_digest)
        if old is not None and old in kept:
            vectors[i] = kept[old]
        else:
            todo.append((i, text))
    step = 256
    for start in range(0, len(todo), step):
        part = todo[start : start + step]
        vectors[[i for i, _ in part]] = embedder.encode([text for _, text in part])
        tell(Progress("embedding", start + len(part), len(todo)))
    report.embedded = len(todo)
    return vectors


def _validate(store: Store, collection: Any, generation: int, expected: int, sample: list[Record],
              vectors: np.ndarray) -> None:
    """The new generation holds exactly the passages it should, and a probe query finds one of them."""
    count = store.count_live(collection, generation)
    if count != expected:
        raise StoreError(f"the new index holds {count} passages where {expected} were written; keeping the old one")
    if not sample:
        return
    probe_id = sample[0].record_id
    probe = vectors[0] if len(vectors) else store.embeddings(collection, [probe_id])[probe_id]
    found = collection.query(query_embeddings=[probe], n_results=1, where=live_filter(generation),
                             include=["distances"])
    if not found["ids"] or probe_id not in found["ids"][0]:
        raise StoreError("a probe query on the new index did not find its own passage; keeping the old one")
