"""Hybrid search over the live index: dense and lexical scores fused, near-duplicates collapsed, abstention.

Scores. Dense: the cosine between the question and a passage, or between the question and the passage blended
with the one before it (the mean of their vectors), whichever is higher; a passage often needs the sentence
before it to make sense. Lexical: BM25, divided by the best BM25 score of the question. The two are fused by
relative score: 0.7 × dense (min-max scaled over the corpus) + 0.3 × lexical.

Abstention. A question must match the corpus better than off-topic questions do. At load, the best dense
score of each background question (index/background.py) is taken against this corpus; the bar is their mean
plus three standard deviations. A passage is only quoted if its own dense score clears the bar, and a question
with none is answered with "the corpus does not answer this". The bar moves with the corpus and the model;
nothing in it is fitted to the evaluation questions.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass

import bm25s
import numpy as np

from index.background import BACKGROUND_QUESTIONS
from index.chunking import Chunk
from index.corpus import Source
from index.embedding import Embedder, ModelError
from index.settings import IndexSettings
from index.store import FORMAT, Pointer, Store, StoreError

log = logging.getLogger(__name__)

DENSE_WEIGHT = 0.7
BAR_SIGMAS = 3.0
MAX_QUESTION_CHARS = 1000
NEAR_DUPLICATE = 0.8
MAX_PASSAGES = 15  # past the best fifteen, passages over the bar stop being answers to the question
_TOKEN = re.compile(r"\w+")
EMPTY_CORPUS = "The corpus is empty: a moderator has to add sources and reindex."


class QuestionError(ValueError):
    """A question that cannot be searched; the message tells the asker what to change."""


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    source: Source


@dataclass(frozen=True)
class Answer:
    """The passages that answer a question, best first; none when the corpus does not answer it."""

    question: str
    hits: tuple[Hit, ...]
    total: int = 0
    note: str | None = None

    @property
    def answered(self) -> bool:
        return bool(self.hits)


def clean_question(raw: str) -> str:
    """The question with control characters removed and spaces collapsed, or a QuestionError."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in raw)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("The question is empty: ask something about Iran–Taliban ties.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text):,} characters long; keep it under {MAX_QUESTION_CHARS:,}.")
    if not _TOKEN.search(text):
        raise QuestionError("The question has no words in it.")
    return text


def is_mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return not letters or latin / len(letters) >= 0.5


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _words(text: str) -> set[str]:
    return set(_tokens(text))


class LiveIndex:
    """An immutable snapshot of one generation: passages, their vectors and a BM25 index, ready to search."""

    def __init__(self, pointer: Pointer, chunks: list[Chunk], sources: dict[str, Source],
                 vectors: np.ndarray) -> None:
        self.pointer = pointer
        self.chunks = chunks
        self.sources = sources
        self.vectors = vectors
        self.blended = _blend_with_previous(chunks, vectors)
        self._position = {c.id: i for i, c in enumerate(chunks)}
        self._bm25 = bm25s.BM25()
        if chunks:  # bm25s cannot index nothing; an empty index is searched by nobody
            self._bm25.index(bm25s.tokenize([c.text for c in chunks], stopwords="en", show_progress=False),
                             show_progress=False)
        self.bar = float("inf")

    @classmethod
    def load(cls, store: Store) -> "LiveIndex":
        for _ in range(3):
            pointer = store.pointer()
            if pointer is None:
                raise StoreError("The index is empty: run `python -m index build` first.")
            if pointer.format != FORMAT:
                raise StoreError("The index was built by an older Dossier; rebuild it: `python -m index build`.")
            collection = store.chunks_collection(pointer.collection)
            pairs = list(store.records(collection, pointer.generation, with_embeddings=True))
            # A build that switched, or cleaned up after a switch, while we read makes us read again.
            if len(pairs) == pointer.chunks and store.pointer() == pointer:
                break
        else:
            raise StoreError("The index kept changing while it was read; try again when the build is done.")
        pairs.sort(key=lambda p: (p[0].chunk.source_id, p[0].chunk.start))
        chunks = [record.chunk for record, _ in pairs]
        sources = {record.source.id: record.source for record, _ in pairs}
        dim = pointer.dimension
        vectors = np.stack([v for _, v in pairs if v is not None]) if pairs else np.zeros((0, dim), np.float32)
        return cls(pointer, chunks, sources, vectors.astype(np.float32))

    def dense(self, query: np.ndarray) -> np.ndarray:
        return np.maximum(self.vectors @ query, self.blended @ query)

    def lexical(self, question: str) -> np.ndarray:
        """Raw BM25 scores of every passage for the question."""
        tokens = [t for t in _tokens(question) if t in self._bm25.vocab_dict]
        scores = self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.chunks))
        return np.asarray(scores, dtype=np.float32)

    def calibrate(self, embedder: Embedder) -> None:
        """Sets the abstention bar from background questions (see the module docstring)."""
        if not self.chunks:
            return
        tops = [float(np.max(self.dense(v))) for v in embedder.encode(list(BACKGROUND_QUESTIONS))]
        self.bar = float(np.mean(tops) + BAR_SIGMAS * np.std(tops))
        log.info("abstention bar %.3f (background mean %.3f, max %.3f)", self.bar, np.mean(tops), max(tops))

    def position(self, chunk_id: str) -> int | None:
        return self._position.get(chunk_id)


def _blend_with_previous(chunks: list[Chunk], vectors: np.ndarray) -> np.ndarray:
    blended = vectors.copy()
    for i in range(1, len(chunks)):
        if chunks[i - 1].source_id == chunks[i].source_id:
            blended[i] = vectors[i - 1] + vectors[i]
    norms = np.linalg.norm(blended, axis=1, keepdims=True)
    return np.asarray(blended / np.where(norms == 0, 1, norms), dtype=np.float32)


class Searcher:
    """Answers questions from the live index; `reload` swaps in a new generation without a pause."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.index = self._load()

    @classmethod
    def open(cls, settings: IndexSettings, embedder: Embedder) -> "Searcher":
        return cls(Store.open(settings), embedder)

    def _load(self) -> LiveIndex:
        index = LiveIndex.load(self.store)
        if index.pointer.model != self.embedder.name:
            raise ModelError(
                f"The index was built with the embedding model {index.pointer.model!r}, but EMBEDDING_MODEL is "
                f"{self.embedder.name!r}. Rebuild it with `python -m index build`, or set EMBEDDING_MODEL back."
            )
        index.calibrate(self.embedder)
        return index

    def reload(self) -> bool:
        """Loads the live generation if a build moved the pointer; True when it did."""
        if self.store.pointer() == self.index.pointer:
            return False
        self.store.refresh()  # another process may have built it
        self.index = self._load()
        return True

    def search(self, raw_question: str, limit: int = 5, offset: int = 0) -> Answer:
        question = clean_question(raw_question)
        if not is_mostly_latin(question):
            return Answer(question, (), note="Dossier's model reads English only; ask in English.")
        index = self.index  # one snapshot for the whole question, even if a reload swaps it meanwhile
        if not index.chunks:
            return Answer(question, (), note=EMPTY_CORPUS)
        dense = index.dense(self.embedder.encode([question])[0])
        lexical = index.lexical(question)
        span = float(dense.max() - dense.min()) or 1.0
        best_lexical = float(lexical.max()) or 1.0
        fused = DENSE_WEIGHT * (dense - dense.min()) / span + (1 - DENSE_WEIGHT) * lexical / best_lexical
        best = np.flatnonzero(dense >= index.bar)
        if len(best) > MAX_PASSAGES:
            best = best[np.argpartition(-fused[best], MAX_PASSAGES)[:MAX_PASSAGES]]
        candidates = best[np.argsort(-fused[best], kind="stable")]
        ranked: list[Hit] = []
        seen: list[set[str]] = []
        for i in candidates:
            if len(ranked) >= offset + limit:
                break
            chunk = index.chunks[i]
            words = _words(chunk.text)
            if any(len(words & w) / max(1, len(words | w)) >= NEAR_DUPLICATE for w in seen):
                continue
            seen.append(words)
            ranked.append(Hit(chunk, round(float(fused[i]), 4), index.sources[chunk.source_id]))
        # `total` counts the passages a reader may page through; near-duplicates are dropped as pages are read.
        return Answer(question, tuple(ranked[offset:]), total=len(candidates))

    def context(self, chunk_id: str, radius: int = 1) -> list[Chunk]:
        """The passage and its neighbours in the same source, in reading order."""
        index = self.index
        i = index.position(chunk_id)
        if i is None:
            return []
        source_id = index.chunks[i].source_id
        return [c for c in index.chunks[max(0, i - radius) : i + radius + 1] if c.source_id == source_id]

    def sources(self) -> list[tuple[Source, int]]:
        counts: dict[str, int] = {}
        for chunk in self.index.chunks:
            counts[chunk.source_id] = counts.get(chunk.source_id, 0) + 1
        return [(self.index.sources[sid], n) for sid, n in sorted(counts.items())]
