"""The Chroma store: passages with their embeddings, kept in generations behind one atomic pointer.

Every passage record carries `born` and `died`, the generations it was added in and removed in. The pointer
(one record in the `dossier_meta` collection) names the live generation G; a record is live when
born <= G < died. A build adds records with born = G + 1 and marks removed ones died = G + 1, which readers of
G do not see, validates the new generation, then moves the pointer in one upsert. A build that dies before
that leaves G answering; `clean_leftovers` (run by the next build, under the build lock) deletes what it
wrote and what earlier generations no longer need.

Beside the pointer, `dossier_meta` holds each kept generation's corroboration (index/builds/corroboration.py): pages
of JSON, in metadata (which Chroma does not index for full-text search), tagged with their generation. A build
writes its generation's pages before it switches; `clean_leftovers` deletes those of generations neither live nor
kept for a rollback, so a rollback finds its generation's pages where they were.

A record's metadata is three keys: `born` and `died`, which filters need, and `record`, a JSON object with
the rest. Chroma reads metadata one key per row, so packing what is never filtered on makes reading 100k
passages several times faster. FORMAT names this layout; an index in another layout is rebuilt, not read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import stat
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.embedding import ModelError
from index.settings import IndexSettings
from index.store.copies import Copies
from index.store.lock import BuildLock, file_lock, lease
from index.store.pointer import (
    META_COLLECTION,
    POINTER_ID,
    PREVIOUS_ID,
    SQLITE_FILE,
    Pointer,
    StoreDamaged,
    StoreError,
    check_folder,
    read_pointers,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

CHUNKS_PREFIX = "dossier_chunks_"
HIGHEST_ID = "highest"  # the highest generation ever switched to: a build after a rollback numbers past it
PAGE_GENERATION = "also_generation"  # metadata of a corroboration page: its generation, its number, and the body
PAGE_NUMBER = "also_page"
PAGE_BODY = "also_body"
BLOB = "blob"
NEVER = 2**62
PAGE = 2000
FORMAT = 2
OWNER_ONLY_FOLDER = 0o700
OWNER_ONLY_FILE = 0o600
SERVER_SECONDS = 60.0  # a Chroma server's answer to one request, a build's largest write included


class NothingToRollBack(StoreError):
    """There is no earlier generation to return to: the message says why."""


@dataclass(frozen=True)
class Record:
    """A stored passage: the chunk, its source, and the digests that decide what a rebuild may reuse."""

    record_id: str
    chunk: Chunk
    source: Source
    doc_digest: str
    embed_digest: str
    born: int


def connect(settings: IndexSettings, *, create: bool = True) -> ClientAPI:
    """A client of the Chroma server or the embedded store; a reader (`create=False`) never makes a new store.
    chromadb is imported here, the first time a process needs more of the store than the pointer."""
    check_folder(settings)
    try:
        if settings.uses_server:
            return _server_client(settings)
        path = settings.chroma_path
        if not create and not (path / SQLITE_FILE).exists():
            raise StoreError(f"There is no index at {path} (CHROMA_PATH) yet: run `python -m index build`.")
        path.mkdir(mode=OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
        check_integrity(path)
        client = _persistent_client(path)
        owner_only(path)
        return client
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises bare ValueError/ConnectionError variants
        where = (f"the Chroma server at {settings.server_address}" if settings.uses_server
                 else f"the Chroma store at {settings.chroma_path}")
        raise StoreError(f"cannot open {where}: {exc}") from exc


def _server_client(settings: IndexSettings) -> ClientAPI:
    """chromadb.HttpClient with a timeout on every request: chromadb sets none, so a server that stops answering
    would hold the calling thread for ever. Making the client asks the server things already, so its heartbeat is
    asked first, within the same bound."""
    import chromadb

    with urllib.request.urlopen(f"http://{settings.server_address}/api/v2/heartbeat", timeout=SERVER_SECONDS):
        pass
    client = chromadb.HttpClient(host=settings.server_host, port=settings.server_port, settings=_chroma_settings())
    client._server._session.timeout = SERVER_SECONDS  # type: ignore[attr-defined]  # its httpx.Client
    return client


def owner_only(path: Path) -> None:
    """Closes the store's folder and database to other users: the pointer names the moderators who built each
    generation. A store of another user's, which this one only reads, is left as it is."""
    for held, allowed in ((path, OWNER_ONLY_FOLDER), (path / SQLITE_FILE, OWNER_ONLY_FILE)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(held.stat().st_mode) & ~allowed:
                held.chmod(allowed)


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def _persistent_client(path: Path) -> ClientAPI:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def check_integrity(path: Path) -> None:
    """Refuses a damaged store before Chroma reads it: some damage makes Chroma's native code abort the process."""
    database = path / SQLITE_FILE
    if not database.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):  # a writer holds it; that is no damage
            return
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({exc})") from exc
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({exc})") from exc
    if verdict != [("ok",)]:
        raise StoreDamaged(f"the Chroma store at {path} is damaged ({verdict[0][0]})")


def check_model(pointer: Pointer | None, model: str) -> None:
    """Refuses a model other than the one the live index was built with, before that model is loaded (or, for a
    model hub name, downloaded)."""
    if pointer is not None and pointer.model != model:
        raise ModelError(f"The index was built with the embedding model {pointer.model!r}, but EMBEDDING_MODEL is "
                         f"{model!r}. Rebuild it with `python -m index build`, or set EMBEDDING_MODEL back.")


def collection_name(model: str) -> str:
    """One collection per model and layout; the hash keeps models whose names slug alike apart."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", model).strip("_").lower()[:40]
    tag = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{CHUNKS_PREFIX}{slug or 'model'}_{tag}_v{FORMAT}"


def live_filter(generation: int) -> dict[str, Any]:
    return {"$and": [{"born": {"$lte": generation}}, {"died": {"$gt": generation}}]}


class Store:
    """Reads and writes passages and the live pointer; Discord-free and synchronous.

    The Chroma client is opened when first needed: a store opened by `open_live` reads the pointer without it (see
    index/store/pointer.py), so a question process whose generation's files are on disk never imports chromadb.
    """

    def __init__(self, settings: IndexSettings, client: ClientAPI | None = None) -> None:
        self.settings = settings
        self.copies = Copies(settings.generations)
        self._client = client
        self._meta_collection: Collection | None = None
        self._building = threading.RLock()
        self._identity = self._identity_now()

    @classmethod
    def open(cls, settings: IndexSettings, *, create: bool = True) -> Store:
        store = cls(settings, connect(settings, create=create))
        _ = store._meta  # a new store gets its meta collection now
        return store

    @classmethod
    def open_live(cls, settings: IndexSettings) -> Store:
        """The store, to read the live index: never created, and refused at once when EMBEDDING_MODEL is not the
        model the index was built with."""
        if not settings.uses_server:
            check_folder(settings)
            check_integrity(settings.chroma_path)  # as opening it would, before anything else reads it
        store = cls(settings)
        check_model(store.pointer(), settings.embedding_model)
        return store

    @property
    def client(self) -> ClientAPI:
        if self._client is None:
            self._client = connect(self.settings, create=False)
        return self._client

    @property
    def _meta(self) -> Collection:
        if self._meta_collection is None:
            self._meta_collection = self.client.get_or_create_collection(META_COLLECTION, embedding_function=None)
        return self._meta_collection

    def refresh(self) -> None:
        """Opens an embedded store afresh, so that it sees what other processes wrote since it was opened.

        Chroma's embedded client keeps each collection's vectors in memory and does not read them again, so
        a passage another process added is not found ("Error finding id"). A new client, made after
        Chroma's per-path client cache is cleared, reads the store from disk; whoever still holds the old
        one can go on using it. Waits while this store is building, and does nothing for a Chroma server or a
        client not opened yet.
        """
        if self._client is None or self.settings.uses_server:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._building:
            SharedSystemClient.clear_system_cache()
            self._client = _persistent_client(self.settings.chroma_path)
            self._meta_collection = None

    def _identity_now(self) -> object:
        """What tells this store from one put in its place: the embedded store's database file (device and inode),
        or the id of the server's meta collection once the client is open; None while there is none."""
        if not self.settings.uses_server:
            try:
                found = os.stat(self.settings.chroma_path / SQLITE_FILE)
            except FileNotFoundError:
                return None
            return found.st_dev, found.st_ino
        if self._client is None:
            return None
        from chromadb.errors import NotFoundError

        try:
            return self._client.get_collection(META_COLLECTION).id
        except NotFoundError:
            return None

    def reopen_if_replaced(self) -> bool:
        """Opens the store again if another was put in its place since it was opened (the folder deleted and built
        again, a server restarted on an empty path): a client of the old one goes on reading what was deleted.
        True when it did."""
        found = self._identity_now()
        if found is None or found == self._identity or self._identity is None:
            self._identity = self._identity if found is None else found
            return False
        log.warning("the Chroma store was replaced since it was opened (deleted and built again?): opening the new one")
        self.refresh()
        with self._building:
            self._meta_collection = None
            self._identity = found
        return True

    def pointer(self, which: str = POINTER_ID) -> Pointer | None:
        """The live generation's pointer, or (`which=PREVIOUS_ID`) the one live before it; read without chromadb
        while the client is not open."""
        if self._client is None:
            return read_pointers(self.settings, which)[which]
        documents = self._meta.get(ids=[which], include=["documents"])["documents"] or []
        return Pointer.parse(documents[0] if documents else None)

    def forget_old_copies(self) -> None:
        """Deletes this host's files of generations older than the live and the previous one (a build on this host
        may be writing a newer one)."""
        kept = read_pointers(self.settings, POINTER_ID, PREVIOUS_ID) if self._client is None else {
            which: self.pointer(which) for which in (POINTER_ID, PREVIOUS_ID)}
        numbers = [p.generation for p in kept.values() if p is not None]
        if numbers:
            self.copies.keep_only(kept.values(), below=min(numbers))

    def highest_generation(self) -> int:
        """The highest generation ever switched to (0: none, or none since stores kept this record)."""
        got = self._meta.get(ids=[HIGHEST_ID], include=["documents"])
        documents = got["documents"] or []
        return int(json.loads(documents[0])["generation"]) if documents and documents[0] else 0

    def switch(self, pointer: Pointer, previous: Pointer | None) -> None:
        """The one atomic step of a build: readers see the new generation from here on, and `previous` (the
        generation live until now) is kept for a rollback, in the same write, which also records the highest
        generation so far, so that numbers are never used twice, rollbacks or not."""
        if previous is None:
            self._meta.delete(ids=[PREVIOUS_ID])
        highest = json.dumps({"generation": max(pointer.generation, self.highest_generation())})
        records = [(POINTER_ID, json.dumps(asdict(pointer))), (HIGHEST_ID, highest)]
        if previous:
            records.append((PREVIOUS_ID, json.dumps(asdict(previous))))
        self._meta.upsert(ids=[key for key, _ in records], embeddings=np.zeros((len(records), 1), np.float32),
                          documents=[document for _, document in records])

    def write_pages(self, generation: int, pages: list[str]) -> None:
        """Stores a generation's corroboration pages, replacing any an interrupted build left for that number."""
        self._meta.delete(where={PAGE_GENERATION: generation})
        ids = [f"also:{generation}:{n}" for n in range(len(pages))]
        metadatas: list[Any] = [{PAGE_GENERATION: generation, PAGE_NUMBER: n, PAGE_BODY: page}
                                for n, page in enumerate(pages)]
        self._meta.add(ids=ids, embeddings=np.zeros((len(pages), 1), np.float32), metadatas=metadatas)

    def read_pages(self, generation: int) -> list[str]:
        """A generation's corroboration pages in order; none for a generation built before they were kept."""
        got = self._meta.get(where={PAGE_GENERATION: generation}, include=["metadatas"])
        pages = sorted((int(str(m[PAGE_NUMBER])), str(m[PAGE_BODY])) for m in got["metadatas"] or [])
        return [body for _, body in pages]

    def read_blob(self, record_id: str) -> str | None:
        """A text kept beside the pointer (index/builds/files.py keeps the background questions' vectors so), in
        metadata, which Chroma does not index for full-text search."""
        got = self._meta.get(ids=[record_id], include=["metadatas"])["metadatas"] or []
        return str(got[0][BLOB]) if got and got[0] and BLOB in got[0] else None

    def write_blob(self, record_id: str, text: str) -> None:
        self._meta.upsert(ids=[record_id], embeddings=np.zeros((1, 1), np.float32), metadatas=[{BLOB: text}])

    def rollback(self, owner: str) -> Pointer:
        """Makes the previous generation live again, under the build lock; returns its pointer.

        Raises NothingToRollBack when no earlier generation is kept. After a rollback there is none: the
        generation rolled back from is deleted by the next build.
        """
        with self.build_lock(owner) as lock:
            self.refresh()  # see what other processes wrote since this store was opened
            live, previous = self.pointer(), self.pointer(PREVIOUS_ID)
            if live is None:
                raise NothingToRollBack("There is nothing to roll back to: the index has never been built.")
            if previous is None or (previous.collection, previous.generation) == (live.collection, live.generation):
                raise NothingToRollBack(f"There is nothing to roll back to: generation {live.generation} is the "
                                        "only one kept (a rollback goes back one build, once).")
            names = {c.name for c in self.client.list_collections()}
            kept = previous.collection in names and self.count_live(
                self.chunks_collection(previous.collection), previous.generation) == previous.chunks
            if not kept:
                raise NothingToRollBack(f"There is nothing to roll back to: generation {previous.generation} is no "
                                        "longer complete in the store.")
            lock.check()
            self._meta.upsert(ids=[POINTER_ID], embeddings=np.zeros((1, 1), np.float32),
                              documents=[json.dumps(asdict(previous))])
            self._meta.delete(ids=[PREVIOUS_ID])
        log.warning("rolled back by %s from generation %d to generation %d (built %s by %s)", owner,
                    live.generation, previous.generation, previous.built_at, previous.built_by)
        return previous

    def chunks_collection(self, name: str) -> Collection:
        return self.client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def max_batch(self) -> int:
        return int(self.client.get_max_batch_size())

    @contextlib.contextmanager
    def build_lock(self, owner: str) -> Iterator[BuildLock]:
        """The one-writer lock: a file lock for an embedded store, a lease record on a Chroma server."""
        if not self.settings.uses_server:
            held = file_lock(self.settings.chroma_path, owner)
        else:
            held = lease(self._meta, owner)
        with held as lock, self._building:
            yield lock

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

    def clean_leftovers(self) -> None:
        """Removes what neither the live generation nor the previous one (kept for a rollback) needs: an
        interrupted or held-back build's writes, a rolled-back generation, and dead records."""
        pointer, previous = self.pointer(), self.pointer(PREVIOUS_ID)
        self.copies.keep_only([pointer, previous])
        kept = {p.collection for p in (pointer, previous) if p is not None}
        generations = {p.generation for p in (pointer, previous) if p is not None}
        # Not a `$nin` filter: Chroma matches it on records without the key too, the pointer among them.
        pages = self._meta.get(where={PAGE_GENERATION: {"$gte": 0}}, include=[])["ids"]  # type: ignore[dict-item]
        unused = [page for page in pages if int(page.split(":")[1]) not in generations]
        if unused:
            self._meta.delete(ids=unused)
        for collection in self.client.list_collections():
            name = collection.name
            if name.startswith(CHUNKS_PREFIX) and name not in kept:
                log.info("deleting collection %s, which no live or previous index uses", name)
                self.client.delete_collection(name)
        if pointer is None:
            return
        live = self.chunks_collection(pointer.collection)
        generation = pointer.generation
        oldest = previous.generation if previous and previous.collection == pointer.collection else generation
        stale = {"$or": [{"born": {"$gt": generation}}, {"died": {"$lte": min(oldest, generation)}}]}
        live.delete(where=stale)  # type: ignore[arg-type]
        # Removal marks an interrupted build wrote on records that are still live.
        dying = {"$and": [{"died": {"$gt": generation}}, {"died": {"$lt": NEVER}}]}
        marked = live.get(where=dying, include=[])  # type: ignore[arg-type]
        if marked["ids"]:
            log.info("clearing %d removal marks an interrupted build left", len(marked["ids"]))
            self.mark_died(live, list(marked["ids"]), NEVER)


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
