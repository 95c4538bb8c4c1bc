"""The embeddings of the questions' wordings: kept from the search that embedded them (`VectorKeepingEmbedder`),
stored in one byte a number, and read back for gaps."""

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from bot.questionlog.database import Database
from index.model.embedding import Embedder

KEPT_VECTORS = 256  # question embeddings kept for the log: the searches of the last moments


class VectorKeepingEmbedder(Embedder):
    """The searcher's embedder, keeping the vectors of the last questions it embedded one at a time (`recall`), so
    the log stores a question's meaning without embedding it again."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def recipe(self) -> Callable[[], Embedder]:
        return self.inner.recipe()

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.inner.encode(texts)
        if len(texts) == 1:
            with self._lock:
                self._recent[texts[0]] = vectors[0]
                self._recent.move_to_end(texts[0])
                while len(self._recent) > KEPT_VECTORS:
                    self._recent.popitem(last=False)
        return vectors

    def recall(self, text: str) -> np.ndarray | None:
        """The vector of `text` if it was embedded lately."""
        with self._lock:
            return self._recent.get(text)


def vector_bytes(vector: np.ndarray) -> bytes:
    """An embedding in one byte a number, scaled so its largest component is ±127. Only its direction is kept,
    which is all a cosine needs, to within about 0.005: plenty to group questions by meaning."""
    values = np.asarray(vector, dtype=np.float32)
    largest = float(np.abs(values).max()) or 1.0
    return np.round(values / largest * 127).astype(np.int8).tobytes()


def vectors_from(blob: bytes, count: int) -> np.ndarray:
    """`count` embeddings stored by `vector_bytes`, one after another, as unit vectors."""
    vectors = np.frombuffer(blob, dtype=np.int8).reshape(count, -1).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def store_vectors(database: Database, model: str, vectors: list[tuple[int, np.ndarray]]) -> None:
    """Keeps the embeddings of wordings (by id) that gaps had to compute, so it never computes them again."""
    database.executemany("UPDATE wordings SET model = ?, vector = ? WHERE id = ?",
                         [(model, vector_bytes(vector), int(wording_id)) for wording_id, vector in vectors])
