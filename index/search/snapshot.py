"""A generation as a searcher holds it, and its files on this host (index/store/copies.py).

What a process opens without parsing: the passages' vectors, and each blended with the passage it leans on, as
.npy files it maps read-only (the pages are the page cache's, shared by every process of the host, and a generation
no longer held is gone with its mapping); the passages' texts in one file with their offsets and fields; the
passage each leans on; each passage's corroborating partners as positions; the BM25 index as bm25s saves it; the
corpus's lexicon. A build also reads, from the live generation's files, each passage's BM25 tokens and each
source's lexicon, and tokenises and reads again only the passages and sources that changed (`make`).

Tokens and lexicons depend on how words are read (index/search/terms.py, question.py, lexicon.py, bm25s): files
made by other code (TEXT_KEY) are not reused.
"""

import hashlib
import json
import logging
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import bm25s
import numpy as np

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.search.lexicon import Lexicon
from index.search.terms import stem
from index.store.copies import Copies
from index.store.partners import SHOWN, Corroboration
from index.store.pointer import Pointer

log = logging.getLogger(__name__)

BM25_FOLDER = "bm25"
FIELDS = 5  # of each passage, in fields.npy: start, end, paragraph, source, whether a list item
Also = tuple[np.ndarray, np.ndarray, np.ndarray]  # start (n + 1), partners, cosines: see `also_arrays`


@dataclass(frozen=True)
class Snapshot:
    """A generation's passages, vectors and partners, read from its folder (which also holds BM25 and lexicon)."""

    pointer: Pointer
    chunks: list[Chunk]
    sources: dict[str, Source]
    vectors: np.ndarray
    blended: np.ndarray
    leaning: list[int | None]
    also: Also
    folder: Path


@dataclass(frozen=True)
class Vectors:
    """A generation's vectors by chunk id, and its folder: what a build reuses of the live generation."""

    position: dict[str, int]
    vectors: np.ndarray
    folder: Path

    @classmethod
    def of(cls, found: Snapshot) -> "Vectors":
        return cls({c.id: i for i, c in enumerate(found.chunks)}, found.vectors, found.folder)


@cache
def text_key() -> str:
    """What tokens and lexicons depend on: the code that reads words, and bm25s's version."""
    digest = hashlib.sha256(bm25s.__version__.encode())
    here = Path(__file__).parent
    for module in (Path(__file__), here / "terms.py", here / "question.py", here / "lexicon.py"):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


def leans_on(chunks: Sequence[Chunk]) -> list[int | None]:
    """The passage each one leans on: the one before it in its source, or the lead-in of the list it is an item of.

    A passage ending in a colon ("..., including:") introduces the list items that follow it, up to the first
    passage that is no item.
    """
    return [None if j < 0 else j for j in leaning_array(chunks).tolist()]


def leaning_array(chunks: Sequence[Chunk]) -> np.ndarray:
    """`leans_on` as an array, -1 for none."""
    found = np.full(len(chunks), -1, dtype=np.int64)
    lead_in = -1
    for i, chunk in enumerate(chunks):
        same = i > 0 and chunks[i - 1].source_id == chunk.source_id
        if not (same and chunk.item):
            lead_in = -1
        found[i] = lead_in if lead_in >= 0 else (i - 1 if same else -1)
        if _is_lead_in(chunk):
            lead_in = i
    return found


def neighbours(chunks: Sequence[Chunk]) -> np.ndarray:
    """Each passage's previous and next passage in its source (chunks are in reading order), -1 where none."""
    source_of: dict[str, int] = {}
    source = np.array([source_of.setdefault(c.source_id, len(source_of)) for c in chunks], dtype=np.int64)
    found = np.full((len(chunks), 2), -1, dtype=np.int64)
    same = np.flatnonzero(source[1:] == source[:-1])  # passage same + 1 follows passage same in one source
    found[same + 1, 0] = same
    found[same, 1] = same + 1
    return found


def _is_lead_in(chunk: Chunk) -> bool:
    return chunk.text.rstrip().endswith(":")


def lists(chunks: Sequence[Chunk], leaning: Sequence[int | None]) -> dict[int, list[int]]:
    """Each lead-in's items, in reading order."""
    found: dict[int, list[int]] = {}
    for i, j in enumerate(leaning):
        if j is not None and _is_lead_in(chunks[j]):
            found.setdefault(j, []).append(i)
    return found


def blend_with_previous(vectors: np.ndarray, leaning: np.ndarray) -> np.ndarray:
    """Each passage's vector plus the one it leans on (`leaning_array`), normalised: what a passage says with what
    it follows."""
    blended = np.array(vectors, dtype=np.float32)
    rows = np.flatnonzero(leaning >= 0)
    blended[rows] = vectors[leaning[rows]] + vectors[rows]
    norms = np.linalg.norm(blended, axis=1, keepdims=True)
    return np.asarray(blended / np.where(norms == 0, 1, norms), dtype=np.float32)


def also_arrays(chunks: Sequence[Chunk], corroboration: Corroboration | None) -> Also:
    """The SHOWN closest partners of each passage, as positions: passage i's are partners[start[i]:start[i + 1]],
    with their cosines. Arrays hold them in a few bytes each, where tuples of ids would take a hundred."""
    position = {c.id: i for i, c in enumerate(chunks)}
    found: list[tuple[int, int, float]] = []  # (passage, partner, cosine), closest partners first
    for chunk_id, partners in sorted(corroboration.partners.items()) if corroboration else []:
        i = position.get(chunk_id)
        if i is not None:
            shown = [(j, cosine) for other, cosine in partners if (j := position.get(other)) is not None][:SHOWN]
            found += [(i, j, cosine) for j, cosine in shown]
    found.sort(key=lambda f: f[0])  # stable: each passage's partners stay closest first
    counts = np.bincount(np.array([i for i, _, _ in found], dtype=np.int64), minlength=len(chunks))
    start = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    return (start, np.array([j for _, j, _ in found], dtype=np.int32),
            np.array([cosine for _, _, cosine in found], dtype=np.float32))


def stem_all(words: list[str]) -> list[str]:
    return [stem(w) for w in words]


def tokenize(texts: list[str]) -> bm25s.tokenization.Tokenized:
    """Each text's BM25 tokens: its words, English stopwords left out, stemmed."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=stem_all, show_progress=False)


def bm25_of_tokens(flat: np.ndarray, ends: np.ndarray, vocabulary: list[str]) -> bm25s.BM25:
    """The BM25 index bm25s makes of these tokens (`flat` ids into `vocabulary`, passage i's ending at ends[i]),
    bit for bit, with its per-passage loop done on arrays: a build at scale spends a tenth of the time on it."""
    index = bm25s.BM25()
    words, count = len(vocabulary), len(ends)
    if not count:  # bm25s cannot index nothing; an empty generation has no BM25 files
        return index
    stops = np.asarray(ends, dtype=np.int64)
    lengths = stops - np.concatenate([np.zeros(1, dtype=np.int64), stops[:-1]])
    pairs, tf = np.unique(np.repeat(np.arange(count, dtype=np.int64), lengths) * words + np.asarray(flat, np.int64),
                          return_counts=True)
    passage, token = pairs // words, pairs % words
    df = np.bincount(token, minlength=words)
    idf = np.zeros(words, dtype=np.float32)
    for t, n in enumerate(df.tolist()):  # as bm25s computes it, in Python floats
        idf[t] = math.log(1 + (count - n + 0.5) / (n + 0.5)) if n else 0.0
    tf32 = tf.astype(np.float32)
    # bm25s's Lucene weight, in its order of operations and its types (float64, stored as float32)
    weights = tf32 / (index.k1 * ((1 - index.b) + index.b * lengths[passage] / lengths.mean()) + tf32)
    order = np.argsort((token << 32) | passage)
    indptr = np.zeros(words + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    index.scores = {"data": (idf[token] * weights)[order].astype(np.float32),
                    "indices": passage[order].astype(np.int32), "indptr": indptr, "num_docs": count}
    index.vocab_dict = {word: i for i, word in enumerate(vocabulary)}
    if "" not in index.vocab_dict:  # bm25s adds the empty token past the vocabulary
        index.vocab_dict[""] = words
    index.unique_token_ids_set = set(index.vocab_dict.values())
    index.nonoccurrence_array = None  # what bm25s sets for the Lucene weight
    return index


def read(copies: Copies, pointer: Pointer) -> Snapshot | None:
    """The generation's snapshot from its files on this host; None when they are missing or damaged."""
    folder = copies.open(pointer)
    if folder is None:
        return None
    text = (folder / "text.txt").read_text(encoding="utf-8")
    ends = np.load(folder / "text_ends.npy").tolist()
    ids = (folder / "ids.txt").read_text(encoding="utf-8").split("\x00") if ends else []
    sources = [Source(**s) for s in json.loads((folder / "sources.json").read_text(encoding="utf-8"))]
    fields = np.load(folder / "fields.npy")
    if ends and fields.shape[1:] != (FIELDS,):
        log.info("the files of generation %d are of an older layout; they are made again", pointer.generation)
        return None
    chunks = [Chunk(id=chunk_id, source_id=sources[source].id, text=text[begin:end], start=start, end=stop,
                    paragraph=paragraph, item=bool(item))
              for chunk_id, begin, end, (start, stop, paragraph, source, item)
              in zip(ids, [0, *ends[:-1]][: len(ends)], ends, fields.tolist(), strict=True)]
    leaning = [None if j < 0 else j for j in np.load(folder / "leaning.npy").tolist()]
    also = (np.load(folder / "also_start.npy"), np.load(folder / "also_partners.npy"),
            np.load(folder / "also_cosines.npy"))
    return Snapshot(pointer, chunks, {s.id: s for s in sources}, np.load(folder / "vectors.npy", mmap_mode="r"),
                    np.load(folder / "blended.npy", mmap_mode="r"), leaning, also, folder)


def read_vectors(copies: Copies, pointer: Pointer) -> Vectors | None:
    """The generation's vectors by chunk id from its files on this host, without its texts; None when they are
    missing or damaged."""
    folder = copies.open(pointer)
    if folder is None:
        return None
    ids = (folder / "ids.txt").read_text(encoding="utf-8")
    return Vectors({chunk_id: i for i, chunk_id in enumerate(ids.split("\x00"))} if ids else {},
                   np.load(folder / "vectors.npy", mmap_mode="r"), folder)


def read_bm25(folder: Path) -> bm25s.BM25:
    """The generation's BM25 index, its arrays mapped read-only."""
    return bm25s.BM25.load(folder / BM25_FOLDER, mmap=True)


def read_lexicon(folder: Path) -> Lexicon:
    with (folder / "lexicon.pickle").open("rb") as f:
        found: Lexicon = pickle.load(f)  # written by this module, and checked against its hash on opening
    return found
