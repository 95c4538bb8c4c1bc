"""The passages of a chunks collection, by generation: how a record is packed into Chroma's metadata, and the
reads and writes a build and a searcher make on them (index/store/chroma.py tells the layout)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

CHUNKS_PREFIX = "dossier_chunks_"
NEVER = 2**62
PAGE = 2000
FORMAT = 2


@dataclass(frozen=True)
class Record:
    """A stored passage: the chunk, its source, and the digests that decide what a rebuild may reuse."""

    record_id: str
    chunk: Chunk
    source: Source
    doc_digest: str
    embed_digest: str
    born: int


def collection_name(model: str) -> str:
    """One collection per model and layout; the hash keeps models whose names slug alike apart."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", model).strip("_").lower()[:40]
    tag = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{CHUNKS_PREFIX}{slug or 'model'}_{tag}_v{FORMAT}"


def live_filter(generation: int) -> dict[str, Any]:
    return {"$and": [{"born": {"$lte": generation}}, {"died": {"$gt": generation}}]}


class Passages:
    """The reads and writes on a chunks collection; Store adds the pointer, the generations and the lock."""

    @property
    def client(self) -> ClientAPI:
        raise NotImplementedError

    def chunks_collection(self, name: str) -> Collection:
        return self.client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def max_batch(self) -> int:
        return int(self.client.get_max_batch_size())

    def live_ids(self, collection: Collection, generation: int) -> list[str]:
        return list(collection.get(where=live_filter(generation), include=[])["ids"])

    def records(self, collection: Collection, generation: int, *, with_embeddings: bool = False
                ) -> Iterator[tuple[Record, np.ndarray | None]]:
        """The passages live in `generation`, page by page.

        Ids first, then pages by id: a page by offset under a filter shifts when another thread writes.
        """
        include: list[Any] = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        ids = self.live_ids(collection, generation)
        for start in range(0, len(ids), PAGE):
            page = collection.get(ids=ids[start : start + PAGE], include=include)
            embeddings = page.get("embeddings")
            for i, record_id in enumerate(page["ids"]):
                meta = page["metadatas"][i]  # type: ignore[index]
                text = page["documents"][i]  # type: ignore[index]
                vector = np.asarray(embeddings[i], dtype=np.float32) if with_embeddings else None  # type: ignore[index]
                yield _record(record_id, text, meta), vector

    def embeddings(self, collection: Collection, record_ids: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(record_ids), PAGE):
            got = collection.get(ids=record_ids[start : start + PAGE], include=["embeddings"])
            for record_id, vector in zip(got["ids"], got["embeddings"], strict=True):  # type: ignore[arg-type]
                found[record_id] = np.asarray(vector, dtype=np.float32)
        return found

    def add(self, collection: Collection, records: list[Record], vectors: np.ndarray) -> None:
        batch = self.max_batch()
        for start in range(0, len(records), batch):
            part = records[start : start + batch]
            collection.add(ids=[r.record_id for r in part], embeddings=vectors[start : start + batch],
                           documents=[r.chunk.text for r in part], metadatas=[_metadata(r) for r in part])

    def mark_died(self, collection: Collection, record_ids: list[str], generation: int) -> None:
        """Sets `died` (Chroma merges an update into the existing metadata)."""
        batch = self.max_batch()
        for start in range(0, len(record_ids), batch):
            part = record_ids[start : start + batch]
            collection.update(ids=part, metadatas=[{"died": generation}] * len(part))

    def count_live(self, collection: Collection, generation: int) -> int:
        return len(self.live_ids(collection, generation))


def _metadata(record: Record) -> dict[str, str | int]:
    c, s = record.chunk, record.source
    packed = {"chunk_id": c.id, "source_id": c.source_id, "start": c.start, "end": c.end,
              "paragraph": c.paragraph, "item": c.item, "title": s.title, "outlet": s.outlet, "author": s.author,
              "published": s.published, "url": s.url, "doc_digest": record.doc_digest,
              "embed_digest": record.embed_digest}
    return {"born": record.born, "died": NEVER, "record": json.dumps(packed, separators=(",", ":"))}


def _record(record_id: str, text: str | None, meta: Any) -> Record:
    packed = json.loads(meta["record"])
    chunk = Chunk(id=packed["chunk_id"], source_id=packed["source_id"], text=text or "",
                  start=packed["start"], end=packed["end"], paragraph=packed["paragraph"],
                  item=packed.get("item", False))
    source = Source(id=chunk.source_id, title=packed["title"], outlet=packed["outlet"],
                    author=packed["author"], published=packed["published"], url=packed["url"])
    return Record(record_id, chunk, source, packed["doc_digest"], packed["embed_digest"], int(meta["born"]))
