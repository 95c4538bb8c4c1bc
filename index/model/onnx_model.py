"""Questions embedded without torch: the model exported to ONNX, run by onnxruntime, tokenised by `tokenizers`.

The export (index/model/onnx_export.py, which does import torch) writes one folder per model hash under ONNX_CACHE:
model.onnx with its weights beside it (the transformer from its input embeddings to its token embeddings),
vocabulary.f32 (the input embedding table, rows of `width` float32), tokenizer.json (the tokenizer as
sentence-transformers sets it up) and manifest.json (pooling and maximum length, read from the model's own
sentence-transformers modules, and how the export compared with sentence-transformers). This module only
reads that folder. It reads the rows of the vocabulary table a question uses with pread, so the 47 MB table
stays in the page cache, shared, instead of growing each process by the pages a graph lookup would touch.

When the folder is missing, a query process runs the export once in a child (`python -m index export`), so
that it never imports torch itself. When the export did not match sentence-transformers, or the model cannot
be exported, questions are embedded by sentence-transformers instead and the log says so once.

Neither chromadb's ONNX MiniLM function nor sentence-transformers' ONNX backend fits: the first downloads its
graph at run time and pads every question to 256 tokens, the second imports torch.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.model.embedding import (
    BUNDLED_SHA256,
    Embedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    file_sha256,
    is_bundled,
)
from index.settings import IndexSettings

log = logging.getLogger(__name__)

GRAPH_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_FILE = "vocabulary.f32"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 2
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
POOLING_MODES = ("mean", "cls", "max")
ONNX_BATCH = 16  # questions are short: small batches keep onnxruntime's memory arena small
EXPORT_TIMEOUT_SECONDS = 900


class ExportError(Exception):
    """The model has no usable ONNX export, and why; questions then go through sentence-transformers."""


@dataclass(frozen=True)
class Manifest:
    """What an export folder holds: how to run its graph, and whether it matched sentence-transformers.

    `status` is "ok" (every checked text had cosine ≥ MIN_COSINE with sentence-transformers), "mismatch"
    or "unsupported" (the model cannot be exported; `reason` says why).
    """

    status: str
    reason: str = ""
    pooling: str = "mean"
    max_seq_length: int = 0
    pad_id: int = 0
    pad_token: str = ""
    width: int = 0
    dimension: int = 0
    checked: int = 0
    min_cosine: float = 0.0
    worst_text: str = ""
    exported_at: str = ""
    format: int = MANIFEST_FORMAT


def model_folder(name: str) -> Path:
    """Where the model's files are: the bundled package, or a local folder. Hub names are not exported."""
    if is_bundled(name):
        return bundled_model_path()
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise ExportError(f"only the bundled model or a local folder can be exported to ONNX, not {name!r}")
    return folder


def modules_of(folder: Path) -> list[dict[str, str]]:
    """The model's sentence-transformers modules (modules.json), in order."""
    try:
        return list(json.loads((folder / "modules.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read the model's modules.json in {folder}: {exc}") from exc


def model_key(folder: Path, known_weights: str | None = None) -> str:
    """A hash of what defines the model: its weights and every configuration and vocabulary file.

    `known_weights` is the sha256 of model.safetensors when it is known already: the bundled weights are
    verified against it before the export loads them, so a query process need not read 90 MB to find it.
    """
    digest = hashlib.sha256()
    for weights in WEIGHT_FILES:
        path = folder / weights
        if path.is_file():
            sha = known_weights if known_weights and weights == WEIGHT_FILES[0] else file_sha256(path)
            digest.update(f"{weights}:{sha}\n".encode())
    module_dirs = [folder / m["path"] for m in modules_of(folder) if m.get("path")]
    for directory in [folder, *(d for d in module_dirs if d.is_dir())]:
        for path in sorted(p for p in directory.iterdir() if p.suffix in (".json", ".txt") and p.is_file()):
            digest.update(f"{path.relative_to(folder).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def export_folder(settings: IndexSettings) -> Path:
    """The folder that holds (or will hold) the ONNX export of the configured model."""
    name = settings.embedding_model
    return settings.onnx_cache / model_key(model_folder(name), BUNDLED_SHA256 if is_bundled(name) else None)


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest; None when there is none, or one this version cannot read (it is exported again)."""
    try:
        manifest = Manifest(**json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.format == MANIFEST_FORMAT else None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    temporary = folder / f".{MANIFEST_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(manifest), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, folder / MANIFEST_FILE)


@contextlib.contextmanager
def export_lock(folder: Path) -> Iterator[None]:
    """One export per model at a time; others wait, then find it done. The lock file sits beside the folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder.with_name(folder.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pool(tokens: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token embeddings (batch × tokens × dim), as sentence-transformers' Pooling does."""
    if mode == "cls":
        return tokens[:, 0]
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, tokens, np.float32(-1e9)).max(axis=1)
    return (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxEmbedder(Embedder):
    """The exported model run by onnxruntime: no torch, no transformers, no sentence-transformers."""

    def __init__(self, folder: Path, manifest: Manifest, name: str) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = name
        self.dimension = manifest.dimension
        self._pooling = manifest.pooling
        self._width = manifest.width
        self._vocabulary = folder / VOCABULARY_FILE
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        # One thread: a question is too small to share, and the pool's idle threads spin. At load 6 on 2 cores the
        # default pool of two took 25-28 ms of CPU an encode against 12 ms, and a slower median (28-43 ms against
        # 17-22 ms; docs/development.md, "Timings").
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # No arena: each run's activations go back to malloc, rather than stay held at the longest batch's size.
        options.enable_cpu_mem_arena = False
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            self._session = onnxruntime.InferenceSession(str(folder / GRAPH_FILE), options,
                                                         providers=["CPUExecutionProvider"])
        except Exception as exc:  # both libraries raise bare Exception subclasses for unreadable files
            raise ExportError(f"the ONNX export in {folder} cannot be loaded ({exc}); remove that folder and "
                              "it is made again at the next start") from exc
        self._tokenizer.enable_truncation(max_length=manifest.max_seq_length)
        self._tokenizer.enable_padding(pad_id=manifest.pad_id, pad_token=manifest.pad_token)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Batches of similar length waste little on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), ONNX_BATCH):
            part = order[start : start + ONNX_BATCH]
            out[part] = self._encode_batch([texts[i] for i in part])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        feeds = {"inputs_embeds": self._lookup(ids),
                 "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        tokens = self._session.run(None, {name: feeds[name] for name in self._inputs})[0]
        return normalize(pool(tokens, feeds["attention_mask"], self._pooling))

    def _lookup(self, ids: np.ndarray) -> np.ndarray:
        """The input embeddings of token ids (batch × tokens), read row by row from the vocabulary file."""
        unique, inverse = np.unique(ids, return_inverse=True)
        size = self._width * 4
        with self._vocabulary.open("rb") as f:
            rows = [np.frombuffer(os.pread(f.fileno(), size, int(i) * size), dtype=np.float32) for i in unique]
        return np.stack(rows)[inverse.reshape(ids.shape)]


def export_in_child(settings: IndexSettings) -> None:
    """Runs `python -m index export` for these settings and waits; this process imports no torch.

    On a terminal the export says what it does as it goes; elsewhere what it said goes to the log.
    """
    env = {**os.environ, "EMBEDDING_MODEL": settings.embedding_model, "SEEDS_DIR": str(settings.seeds_dir),
           "ONNX_CACHE": str(settings.onnx_cache), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    log.info("exporting %s to ONNX in a child process (once per model)", settings.embedding_model)
    shown = sys.stderr.isatty()
    try:
        done = subprocess.run([sys.executable, "-m", "index", "export"], env=env, stdout=subprocess.PIPE,
                              stderr=None if shown else subprocess.PIPE, text=True, timeout=EXPORT_TIMEOUT_SECONDS,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"the export did not finish: {exc}") from exc
    if done.returncode != 0:
        log.debug("export output: %s", done.stderr or done.stdout)


def question_embedder(settings: IndexSettings) -> Embedder:
    """The embedder for questions: the ONNX export, made first if need be; sentence-transformers otherwise."""
    name = settings.embedding_model
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbedder.load(name)
    try:
        folder = export_folder(settings)
        manifest = read_manifest(folder)
        if manifest is None:
            export_in_child(settings)
            manifest = read_manifest(folder)
        if manifest is None:
            raise ExportError("the export failed; run `python -m index export` to see why")
        if manifest.status != "ok":
            raise ExportError(manifest.reason)
        embedder = OnnxEmbedder(folder, manifest, name)
    except ExportError as exc:
        log.warning("embedding questions with sentence-transformers, not ONNX: %s", exc)
        return SentenceTransformerEmbedder.load(name)
    log.info("embedding questions with the ONNX export of %s (%s)", name, folder)
    return embedder
