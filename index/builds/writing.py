"""The stages that make the new generation in Chroma and on disk: its vectors embedded (or copied from a live
passage with the same text), its records written, its partners found, and the whole validated before a switch."""

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from index.builds.changes import Changes
from index.builds.files import Assembled, assemble, background_vectors, judged
from index.builds.report import BuildReport, Progress, ProgressFn
from index.model.embedding import Embedder
from index.search import snapshot
from index.search.live_index import calibration_key
from index.search.making import fill
from index.search.searcher import Searcher
from index.search.snapshot import Also, Vectors
from index.store.chroma import Store
from index.store.partners import Corroboration
from index.store.passages import Record, live_filter
from index.store.pointer import Pointer, StoreError

EMBED_STEP = 64  # one model batch: progress moves with each
WRITE_STEP = 500
PROBE_RESULTS = 10


def live_files(store: Store, pointer: Pointer | None) -> Vectors | None:
    """The live generation's files on this host (made from Chroma first if they are not), whose vectors, tokens
    and lexicons the new generation reuses."""
    if pointer is None:
        return None
    found = snapshot.read_vectors(store.copies, pointer)
    if found is None and (filled := fill(store, pointer, check=False)) is not None:
        found = Vectors.of(filled)
    return found


def embedded(embedder: Embedder, fresh: list[tuple[Record, str]], reusable: dict[str, str],
             live: Callable[[str], np.ndarray | None], dimension: int, report: BuildReport,
             tell: ProgressFn) -> np.ndarray:
    """Embeddings for the new records: copied from a live passage with the same text, else computed."""
    vectors = np.zeros((len(fresh), dimension), dtype=np.float32)
    todo = []
    for i, (record, text) in enumerate(fresh):
        chunk_id = reusable.get(record.embed_digest)
        known = live(chunk_id) if chunk_id is not None else None
        if known is not None:
            vectors[i] = known
        else:
            todo.append((i, text))
    # Steps of similar length waste little on padding, as one encode over all the texts would.
    todo.sort(key=lambda item: len(item[1]))
    for start in range(0, len(todo), EMBED_STEP):
        part = todo[start : start + EMBED_STEP]
        vectors[[i for i, _ in part]] = embedder.encode([text for _, text in part])
        tell(Progress("embedding", start + len(part), len(todo)))
    report.embedded = len(todo)
    return vectors


def write(store: Store, collection: Any, records: list[Record], vectors: np.ndarray, replaced: list[str],
          generation: int, tell: ProgressFn) -> None:
    """Adds the new generation's records, then marks the replaced ones as dying with it."""
    total = len(records) + len(replaced)
    tell(Progress("writing", 0, total))
    for start in range(0, len(records), WRITE_STEP):
        store.add(collection, records[start : start + WRITE_STEP], vectors[start : start + WRITE_STEP])
        tell(Progress("writing", min(start + WRITE_STEP, len(records)), total))
    for start in range(0, len(replaced), WRITE_STEP):
        store.mark_died(collection, replaced[start : start + WRITE_STEP], generation)
        tell(Progress("writing", len(records) + min(start + WRITE_STEP, len(replaced)), total))


def corroborated(store: Store, collection: Any, generation: int, changes: Changes, live_files: Vectors | None,
                 dimension: int, live: tuple[str, Corroboration | None, dict[str, frozenset[str]]],
                 report: BuildReport, tell: ProgressFn) -> tuple[Assembled, Also]:
    """The new generation's passages and vectors, in reading order, and their partners (kept in the store, and
    returned as positions for its files). `live` is the code key, and the live generation's partners and its
    passages per source, which the partners of unchanged sources are kept from."""
    tell(Progress("corroborating", 0, 1))
    new_records = changes.new_records
    # The vectors as Chroma keeps them (its cosine space moves their last bits): what a copy made from it would hold.
    stored = store.embeddings(collection, [r.record_id for r in new_records])
    kept_as = np.array([stored[r.record_id] for r in new_records], dtype=np.float32).reshape(-1, dimension)
    assembled = assemble(changes.keep, new_records, kept_as, live_files, dimension)
    found, also = judged(assembled, *live)
    store.write_pages(generation, found.pages())
    report.corroboration = {"bar": round(found.bar, 4) if math.isfinite(found.bar) else None,
                            "passages": len(found.partners), "judged": found.judged}
    tell(Progress("corroborating", 1, 1))
    return assembled, also


def validate(store: Store, collection: Any, generation: int, expected: int, changes: Changes,
             vectors: np.ndarray) -> None:
    """The new generation holds exactly the passages it should, and a probe query finds one of them.

    The probe searches only this build's records when there are any: a filter that few records pass is fast,
    where the generation's range filter costs a scan of the whole collection (0.4 s at 100k passages).
    """
    count = store.count_live(collection, generation)
    if count != expected:
        raise StoreError(f"the new index holds {count} passages where {expected} were written; "
                         "keeping the old one")
    if changes.fresh:
        probe_id, probe, where = changes.fresh[0][0].record_id, vectors[0], {"born": generation}
    elif changes.keep:
        probe_id, where = changes.keep[0].record_id, live_filter(generation)
        probe = store.embeddings(collection, [probe_id])[probe_id]
    else:
        return
    found = collection.query(query_embeddings=[probe], n_results=min(PROBE_RESULTS, expected), where=where,
                             include=["distances"])
    ids, distances = found["ids"][0], (found["distances"] or [[]])[0]
    exact = [i for i, d in zip(ids, distances, strict=True) if d < 1e-4]
    # Identical passages share a vector: more of them than the query returns may hide the probe's own id.
    if probe_id not in exact and not (exact and len(exact) == len(ids)):
        raise StoreError("a probe query on the new index did not find its own passage; keeping the old one")


def validated_files(store: Store, embedder: Embedder, new: Pointer, any_passage: bool) -> tuple[Searcher, Pointer]:
    """A searcher over the new generation's files, read back as every searcher will read them, and its pointer with
    the abstention bar, computed once for all from the background questions' vectors the store keeps."""
    background = background_vectors(store, embedder) if any_passage else None
    searcher = Searcher(store, embedder, new, background=background)
    if math.isfinite(searcher.index.bar):
        new = replace(new, bar=searcher.index.bar, spread=searcher.index.spread,
                      bar_key=calibration_key(embedder.name))
    return searcher, new
