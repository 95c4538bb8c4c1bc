"""The new generation as a build makes it outside Chroma: its passages and vectors assembled from the live
generation's files and what the build embedded, its partners judged, its files written, and the background
questions' vectors that calibrate its abstention bar.

The live generation's files give the vectors of the passages a build keeps (and of those whose text another passage
had), so a build reads no vector back from Chroma. The background questions' vectors are kept in the store, by
model and question text: a build that embeds no passage (one that only removes a source) loads no model.
"""

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.builds.corroboration import corroborate
from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.background import BACKGROUND_FILE, BACKGROUND_QUESTIONS
from index.model.embedding import Embedder
from index.search.snapshot import Vectors, also_arrays
from index.store.chroma import Store
from index.store.partners import Corroboration
from index.store.passages import Record

log = logging.getLogger(__name__)

BACKGROUND_PREFIX = "background:"


@dataclass(frozen=True)
class Assembled:
    """The new generation's passages in reading order (by source, then offset), their sources and vectors."""

    chunks: list[Chunk]
    sources: dict[str, Source]
    vectors: np.ndarray


def live_vectors(live: Vectors | None) -> Callable[[str], np.ndarray | None]:
    """The vector of a live passage, by chunk id; None for one the live generation does not hold."""

    def vector(chunk_id: str) -> np.ndarray | None:
        i = live.position.get(chunk_id) if live is not None else None
        return None if i is None or live is None else np.asarray(live.vectors[i])

    return vector


def assemble(keep: Sequence[Record], fresh: Sequence[Record], fresh_vectors: np.ndarray, live: Vectors | None,
             dimension: int) -> Assembled:
    """The kept records (their vectors from the live generation's files) and the new ones, in reading order."""
    records = [*keep, *fresh]
    order = [k for *_, k in sorted((r.chunk.source_id, r.chunk.start, k) for k, r in enumerate(records))]
    vectors = np.zeros((len(order), dimension), dtype=np.float32)
    kept = [(n, k) for n, k in enumerate(order) if k < len(keep)]
    if kept:
        assert live is not None, "kept passages come from the live generation"
        vectors[[n for n, _ in kept]] = live.vectors[[live.position[keep[k].chunk.id] for _, k in kept]]
    made = [(n, k - len(keep)) for n, k in enumerate(order) if k >= len(keep)]
    if made:
        vectors[[n for n, _ in made]] = fresh_vectors[[k for _, k in made]]
    return Assembled([records[k].chunk for k in order], {records[k].source.id: records[k].source for k in order},
                     vectors)


def judged(new: Assembled, key: str, live: Corroboration | None, live_sources: dict[str, frozenset[str]]
           ) -> tuple[Corroboration, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The new generation's partners, and the same as positions for its files."""
    found = corroborate(new.chunks, new.vectors, key, live, live_sources)
    return found, also_arrays(new.chunks, found)


def background_key(model: str) -> str:
    """What the background questions' vectors depend on: the model and the questions' text."""
    return hashlib.sha256(model.encode() + b"\n" + BACKGROUND_FILE.read_bytes()).hexdigest()[:16]


def background_vectors(store: Store, embedder: Embedder) -> np.ndarray:
    """The background questions' vectors: kept in the store, or encoded now (loading the model) and kept."""
    record = BACKGROUND_PREFIX + background_key(embedder.name)
    kept = store.read_blob(record)
    if kept is not None:
        vectors = np.frombuffer(base64.b64decode(kept), dtype=np.float32)
        if len(vectors) % len(BACKGROUND_QUESTIONS) == 0:
            return vectors.reshape(len(BACKGROUND_QUESTIONS), -1)
    vectors = np.asarray(embedder.encode(list(BACKGROUND_QUESTIONS)), dtype=np.float32)
    store.write_blob(record, base64.b64encode(vectors.tobytes()).decode())
    return vectors
