"""Making a generation's files (index/search/snapshot.py says what they hold), from its passages and vectors.

A build makes them from the live generation's files and what changed: each passage's BM25 tokens are read from the
previous generation's files by chunk id (a chunk id names its text), each source's lexicon by the ids of its
passages and its labels, and only the others are tokenised and read; the BM25 index itself is computed whole
(its weights depend on every passage), from tokens. A process that fills a copy from Chroma makes them from nothing.
"""

import hashlib
import json
import logging
import pickle
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.search import snapshot
from index.search.lexicon import Lexicon
from index.search.snapshot import (
    BM25_FOLDER,
    Also,
    Snapshot,
    also_arrays,
    blend_with_previous,
    bm25_of_tokens,
    text_key,
    tokenize,
)
from index.store.chroma import Store
from index.store.copies import Copies
from index.store.partners import Corroboration
from index.store.pointer import Pointer

log = logging.getLogger(__name__)

Tokens = tuple[np.ndarray, np.ndarray, list[str]]  # flat token ids, each passage's end in them, the vocabulary


def make(copies: Copies, pointer: Pointer, chunks: Sequence[Chunk], sources: dict[str, Source], vectors: np.ndarray,
         also: Also, previous: Path | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Writes the generation's files and returns their folder. `chunks` are in reading order (by source, then
    offset), `vectors` theirs; `previous` is the folder of a generation whose tokens and lexicons may be reused;
    `progress` hears (files written, files) as they are written."""
    # Through the module: bench/quality.py measures other rules of leaning.
    leaning = np.array([-1 if j is None else j for j in snapshot.leans_on(chunks)], dtype=np.int64)
    reusable = _reusable(previous)
    flat, ends, vocab = _tokens(chunks, reusable)
    lexicons = _lexicons(chunks, sources, reusable)
    index = bm25_of_tokens(flat, ends, vocab)
    order = list(dict.fromkeys(c.source_id for c in chunks))
    number = {source_id: n for n, source_id in enumerate(order)}
    fields = np.array([(c.start, c.end, c.paragraph, number[c.source_id], c.item) for c in chunks], dtype=np.int64)
    steps: list[Callable[[Path], object]] = [
        lambda f: np.save(f / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32)),
        lambda f: np.save(f / "blended.npy", blend_with_previous(vectors, leaning)),
        lambda f: np.save(f / "leaning.npy", leaning.astype(np.int32)),
        lambda f: (f / "text.txt").write_text("".join(c.text for c in chunks), encoding="utf-8"),
        lambda f: np.save(f / "text_ends.npy", np.cumsum([len(c.text) for c in chunks], dtype=np.int64)),
        lambda f: (f / "ids.txt").write_text("\x00".join(c.id for c in chunks), encoding="utf-8"),
        lambda f: np.save(f / "fields.npy", fields.reshape(len(chunks), snapshot.FIELDS)),
        lambda f: (f / "sources.json").write_text(json.dumps([sources[s].to_dict() for s in order]), encoding="utf-8"),
        *[lambda f, n=n, a=a: np.save(f / f"{n}.npy", a)
          for n, a in zip(("also_start", "also_partners", "also_cosines"), also, strict=True)],
        lambda f: index.save(f / BM25_FOLDER, show_progress=False) if chunks else None,
        lambda f: np.save(f / "tokens.npy", flat),
        lambda f: np.save(f / "token_ends.npy", ends),
        lambda f: (f / "vocabulary.json").write_text(json.dumps(vocab), encoding="utf-8"),
        lambda f: _pickle(f / "lexicons.pickle", lexicons),
        lambda f: _pickle(f / "lexicon.pickle", Lexicon.merged(lexicon for _, lexicon in lexicons.values())),
        lambda f: (f / "keys.json").write_text(json.dumps({"text": text_key()}), encoding="utf-8"),
    ]

    def fill(folder: Path) -> None:
        if progress is not None:
            progress(0, len(steps))
        for done, step in enumerate(steps, 1):
            step(folder)
            if progress is not None:
                progress(done, len(steps))

    return copies.write(pointer, fill)


def _pickle(path: Path, value: object) -> None:
    with path.open("wb") as f:
        pickle.dump(value, f)


def fill(store: Store, pointer: Pointer, *, check: bool) -> Snapshot | None:
    """The generation read from Chroma, its files made on this host. None when Chroma did not hold all of it, or
    (`check`) the live pointer moved while it was read: the caller reads again."""
    log.info("making the files of generation %d on this host from Chroma", pointer.generation)
    pairs = list(store.records(store.chunks_collection(pointer.collection), pointer.generation, with_embeddings=True))
    if len(pairs) != pointer.chunks or (check and store.pointer() != pointer):
        return None
    pairs.sort(key=lambda p: (p[0].chunk.source_id, p[0].chunk.start))
    chunks = [record.chunk for record, _ in pairs]
    sources = {record.source.id: record.source for record, _ in pairs}
    vectors = (np.stack([v for _, v in pairs if v is not None]) if pairs
               else np.zeros((0, pointer.dimension), np.float32))
    pages = store.read_pages(pointer.generation)
    corroboration = Corroboration.from_pages(pages) if pages else None
    make(store.copies, pointer, chunks, sources, vectors, also_arrays(chunks, corroboration))
    return snapshot.read(store.copies, pointer)


class _Reusable:
    """What a previous generation's files offer a new one: tokens by chunk id, lexicons by source."""

    def __init__(self, folder: Path) -> None:
        ids = (folder / "ids.txt").read_text(encoding="utf-8")
        self.position = {chunk_id: i for i, chunk_id in enumerate(ids.split("\x00"))} if ids else {}
        self.flat = np.load(folder / "tokens.npy", mmap_mode="r")
        ends = np.load(folder / "token_ends.npy")
        self.starts, self.ends = np.concatenate([[0], ends[:-1]]).astype(np.int64), ends
        self.vocab: list[str] = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        with (folder / "lexicons.pickle").open("rb") as f:
            self.lexicons: dict[str, tuple[str, Lexicon]] = pickle.load(f)  # ours, checked by hash on opening


def _reusable(folder: Path | None) -> _Reusable | None:
    if folder is None:
        return None
    try:
        if json.loads((folder / "keys.json").read_text(encoding="utf-8")).get("text") == text_key():
            return _Reusable(folder)
    except (OSError, ValueError) as exc:
        log.info("not reusing the previous generation's tokens and lexicons: %s", exc)
    return None


def _tokens(chunks: Sequence[Chunk], reusable: _Reusable | None) -> Tokens:
    """Each passage's BM25 tokens, as ids into a vocabulary of the tokens used: those of passages the previous
    generation had (by chunk id) read from it, the others tokenised now."""
    known = reusable.position if reusable is not None else {}
    previous = np.array([known.get(c.id, -1) for c in chunks], dtype=np.int64)
    fresh = np.flatnonzero(previous < 0)
    tokenized = tokenize([chunks[int(i)].text for i in fresh]) if len(fresh) else None
    old_vocab = reusable.vocab if reusable is not None else []
    words = {word: i for i, word in enumerate(old_vocab)}
    added = [w for w in (tokenized.vocab if tokenized else {}) if w not in words]
    words.update({w: len(old_vocab) + k for k, w in enumerate(added)})
    remap = np.zeros(len(tokenized.vocab) if tokenized else 0, dtype=np.int64)
    for word, i in (tokenized.vocab if tokenized else {}).items():
        remap[i] = words[word]
    # One pool of tokens, the previous generation's then the new passages', and each passage's span in it.
    old_flat = np.asarray(reusable.flat, dtype=np.int64) if reusable is not None else np.zeros(0, np.int64)
    new_ids = tokenized.ids if tokenized else []
    pool = np.concatenate([old_flat, remap[np.array([t for ids in new_ids for t in ids], dtype=np.int64)]])
    new_ends = len(old_flat) + np.cumsum([len(ids) for ids in new_ids], dtype=np.int64)
    starts, stops = np.zeros(len(chunks), np.int64), np.zeros(len(chunks), np.int64)
    kept = previous >= 0
    if reusable is not None:
        starts[kept], stops[kept] = reusable.starts[previous[kept]], reusable.ends[previous[kept]]
    starts[fresh], stops[fresh] = np.concatenate([[len(old_flat)], new_ends[:-1]]), new_ends
    lengths = stops - starts
    ends = np.cumsum(lengths, dtype=np.int64)
    flat = pool[np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(starts - (ends - lengths), lengths)]
    used, compact = np.unique(flat, return_inverse=True)
    every = [*old_vocab, *added]
    return compact.astype(np.int32), ends, [every[u] for u in used.tolist()]


def _lexicons(chunks: Sequence[Chunk], sources: dict[str, Source], reusable: _Reusable | None
              ) -> dict[str, tuple[str, Lexicon]]:
    """Each source's lexicon with the digest of what it was read from (its passages' ids and its labels): the
    previous generation's where that digest is the same, else read now."""
    by_source: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_source[chunk.source_id].append(chunk)
    previous = reusable.lexicons if reusable is not None else {}
    found = {}
    for source_id, passages in by_source.items():
        source = sources[source_id]
        labels = [label for label in (source.title, source.outlet, source.author) if label]
        digest = hashlib.sha256("\x00".join([*(c.id for c in passages), *labels]).encode()).hexdigest()[:16]
        kept = previous.get(source_id)
        found[source_id] = kept if kept is not None and kept[0] == digest else (
            digest, Lexicon.build((c.text for c in passages), labels))
    return found
