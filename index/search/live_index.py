"""The live index: an immutable snapshot of one generation in memory, its passages scored against a question (dense
cosine, BM25), and the abstention bar that tells an off-topic question (see index/search/searcher.py)."""

import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import replace
from functools import cached_property, lru_cache, partial
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from index.ingest.chunking import Chunk
from index.ingest.corpus import Source
from index.model.background import BACKGROUND_FILE, BACKGROUND_QUESTIONS
from index.model.embedding import Embedder
from index.search import snapshot
from index.search.answer import Hit
from index.search.lexicon import Lexicon, Passage
from index.search.making import fill
from index.search.question import Kind, Query
from index.search.snapshot import Snapshot
from index.search.terms import stem
from index.store.chroma import Store
from index.store.passages import FORMAT
from index.store.pointer import Pointer, StoreError

log = logging.getLogger(__name__)

BAR_SIGMAS = 3.0
PASSAGE_CACHE = 4096  # passages read as evidence, per snapshot: a few hundred questions' candidates
LOAD_ATTEMPTS = 3
_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # how bm25s.tokenize splits the passages, stopwords "en"
_BM25_STOPWORDS = frozenset(STOPWORDS_EN)


class LiveIndex:
    """An immutable snapshot of one generation (index/search/snapshot.py): passages, and their vectors mapped from the
    generation's files; read when first needed (see `prepare`), the lexicon and the BM25 index that reading and
    ranking a question use. Nothing in it refers back to it, so the last reference gone, it is gone at once."""

    def __init__(self, found: Snapshot) -> None:
        self.pointer = found.pointer
        self.chunks = found.chunks
        self.sources = found.sources
        self.vectors = found.vectors
        self.blended = found.blended
        self.leaning = found.leaning
        self.lists = snapshot.lists(self.chunks, self.leaning)
        self.neighbours = snapshot.neighbours(self.chunks)
        self._position = {c.id: i for i, c in enumerate(self.chunks)}
        self._also = found.also
        self._folder = found.folder
        # A cache of a function of the passages, not of a method: a bound method would make a cycle through self.
        self._passage = lru_cache(maxsize=PASSAGE_CACHE)(partial(_read_passage, self.chunks, self.leaning,
                                                                 self.sources))
        self.bar = float("inf")
        self.spread = 1.0

    @cached_property
    def lexicon(self) -> Lexicon:
        """Every word, stem, figure and acronym phrase of the corpus. Read the first time a question is read
        (see `prepare`): a build's own snapshot, which only calibrates and corroborates, never needs it."""
        return snapshot.read_lexicon(self._folder)

    @cached_property
    def _bm25(self) -> bm25s.BM25:
        return snapshot.read_bm25(self._folder) if self.chunks else bm25s.BM25()

    def prepare(self) -> None:
        """Reads what reading and ranking a question need, so that the first question does not wait for it."""
        _ = self.lexicon, self._bm25

    @classmethod
    def load(cls, store: Store, generation: Pointer | None = None) -> "LiveIndex":
        """The live generation, or the one `generation` names (a build's, before it goes live): from its files on
        this host, made first from Chroma when they are missing or damaged."""
        for _ in range(LOAD_ATTEMPTS):
            pointer = generation or store.pointer()
            if pointer is None:
                raise StoreError("The index is empty: run `python -m index build` first.")
            if pointer.format != FORMAT:
                raise StoreError("The index was built by an older Dossier; rebuild it: `python -m index build`.")
            found = snapshot.read(store.copies, pointer) or fill(store, pointer, check=generation is None)
            if found is not None:
                return cls(found)
        raise StoreError("The index kept changing while it was read; try again when the build is done.")

    def dense(self, query: np.ndarray) -> np.ndarray:
        """Each passage's cosine with the question: alone or blended with the one it leans on, the higher."""
        return np.maximum(self.vectors @ query, self.blended @ query)

    def plain_and_dense(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's cosine with the question alone, and `dense`."""
        plain = np.asarray(self.vectors @ query)
        return plain, np.maximum(plain, self.blended @ query)

    def lexical(self, query: Query) -> np.ndarray:
        """BM25 scores of every passage for the question's content words (stemmed), scaled by the best one."""
        return self._bm25_scores({stem(part) for t in query.terms if t.kind is not Kind.FIGURE
                                  for part in t.key.split("-")})

    def lexical_as_written(self, query: Query) -> np.ndarray:
        """BM25 scores for every word of the question as written but English stopwords, as the passages are indexed:
        a long or pasted question keeps words the question reader sets aside."""
        words = {w for w in _BM25_TOKEN.findall(query.text.lower()) if w not in _BM25_STOPWORDS}
        return self._bm25_scores({stem(w) for w in words})

    def _bm25_scores(self, words: Collection[str]) -> np.ndarray:
        # In a fixed order: the float sum over tokens would otherwise follow the set's, which changes with the
        # process's hash seed, and a tie between two passages could fall either way from one run to the next.
        tokens = sorted(w for w in words if w in self._bm25.vocab_dict)
        if not tokens:
            return np.zeros(len(self.chunks), dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        return scores / (float(scores.max()) or 1.0)

    def share_mentioning(self, key: str) -> float:
        """The share of passages that use a term's words (a figure is never common)."""
        words = [w for w in (stem(part) for part in key.split("-")) if w in self._bm25.vocab_dict]
        if key.startswith("#") or not words or not self.chunks:
            return 0.0
        return float(np.count_nonzero(self._bm25.get_scores(words))) / len(self.chunks)

    def calibrate(self, embedder: Embedder, background: np.ndarray | None = None) -> None:
        """Sets the abstention bar: the one kept in the pointer when it was computed as this code would, else the
        mean plus BAR_SIGMAS standard deviations of the best dense scores of the background questions
        (index/model/background.py), given as `background` vectors or encoded now."""
        if not self.chunks:
            return
        pointer = self.pointer
        if pointer.bar is not None and pointer.spread and pointer.bar_key == calibration_key(pointer.model):
            self.bar, self.spread = pointer.bar, pointer.spread
            return
        vectors = background if background is not None else embedder.encode(list(BACKGROUND_QUESTIONS))
        tops = np.max(self.dense(np.asarray(vectors, dtype=np.float32).T), axis=0).tolist()  # all in one product
        self.spread = float(np.std(tops)) or 1.0
        self.bar = float(np.mean(tops)) + BAR_SIGMAS * self.spread
        log.info("abstention bar %.3f (background mean %.3f, max %.3f)", self.bar, np.mean(tops), max(tops))

    def position(self, chunk_id: str) -> int | None:
        return self._position.get(chunk_id)

    def with_also(self, hit: Hit) -> Hit:
        """The hit with the closest passages of other sources that say the same thing: looked up, not computed."""
        i = self._position.get(hit.chunk.id)
        if i is None:
            return hit
        start, partners, cosines = self._also
        also = [(self.chunks[j], float(c)) for j, c in zip(partners[start[i] : start[i + 1]],
                                                          cosines[start[i] : start[i + 1]], strict=True)]
        return replace(hit, also=tuple(Hit(chunk, cosine, self.sources[chunk.source_id]) for chunk, cosine in also))

    def passage(self, i: int) -> Passage:
        """Passage i as evidence: its text, the passage before it in its source, and its source's labels. Cached
        in the snapshot itself, so that a reload drops the old snapshot's cache with it."""
        return self._passage(i)


def _read_passage(chunks: list[Chunk], leaning: list[int | None], sources: dict[str, Source], i: int) -> Passage:
    chunk = chunks[i]
    j = leaning[i]
    before = chunks[j].text if j is not None else ""
    source = sources[chunk.source_id]
    labels = "\n".join(label for label in (source.title, source.outlet, source.author) if label)
    return Passage(chunk.text, before, labels)


@lru_cache(maxsize=8)
def calibration_key(model: str) -> str:
    """What the bar depends on besides the passages: the model, and this module and the background questions,
    whose code and text decide the dense scores and what they are compared with."""
    digest = hashlib.sha256(model.encode())
    for module in (Path(__file__), BACKGROUND_FILE):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]

