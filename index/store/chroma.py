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
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from index.settings import IndexSettings
from index.store.connection import check_integrity, check_model, connect, persistent_client
from index.store.copies import Copies
from index.store.lock import BuildLock, file_lock, lease
from index.store.passages import CHUNKS_PREFIX, NEVER, Passages
from index.store.pointer import (
    META_COLLECTION,
    POINTER_ID,
    PREVIOUS_ID,
    SQLITE_FILE,
    Pointer,
    StoreError,
    check_folder,
    read_pointers,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

# What importers of the store use from the modules it is made of.

log = logging.getLogger(__name__)

HIGHEST_ID = "highest"  # the highest generation ever switched to: a build after a rollback numbers past it
PAGE_GENERATION = "also_generation"  # metadata of a corroboration page: its generation, its number, and the body
PAGE_NUMBER = "also_page"
PAGE_BODY = "also_body"
BLOB = "blob"


class NothingToRollBack(StoreError):
    """There is no earlier generation to return to: the message says why."""


class Store(Passages):
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
            self._client = persistent_client(self.settings.chroma_path)
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

    @contextlib.contextmanager
    def build_lock(self, owner: str) -> Iterator[BuildLock]:
        """The one-writer lock: a file lock for an embedded store, a lease record on a Chroma server."""
        if not self.settings.uses_server:
            held = file_lock(self.settings.chroma_path, owner)
        else:
            held = lease(self._meta, owner)
        with held as lock, self._building:
            yield lock

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

