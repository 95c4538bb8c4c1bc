"""The evaluation questions as the fit sees them: each read, and its candidates found, by the searcher as the bot
would (index/search/evidence.py), with which candidates answer it; and a temporary index of seeds/ to find them in.

The evaluation files are an optional checkout beside the repository: a folder shared/eval next to its folder.
"""

import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.builds.pipeline import build
from index.model.embedding import Embedder, SentenceTransformerEmbedder
from index.model.onnx_model import question_embedder
from index.search.evidence import off_topic
from index.search.features import Candidates
from index.search.reading import Reading
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
FILES = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7")


def require_evaluation_files() -> None:
    """Stops the program, saying where the evaluation files belong, when they are not there."""
    if not EVAL.is_dir():
        sys.exit(f"error: fitting and scoring the answers need the evaluation files, an optional checkout beside "
                 f"the repository (a folder shared/eval next to its folder), and there is no {EVAL}")


@dataclass(frozen=True)
class Example:
    """One evaluation question with its candidates, which of them answer it, and whether anything does."""

    file: str
    question: str
    reading: Reading
    candidates: Candidates
    positive: np.ndarray  # per candidate
    answerable: bool
    off_topic: bool  # refused as off topic, whatever the scorer
    missing: bool  # names what the corpus never mentions: refused when the question model is unsure


def questions(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVAL / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def examples(searcher: Searcher, files: Sequence[str] = FILES) -> list[Example]:
    """Every question of the files, read and its candidates found by the searcher, as the bot would."""
    index = searcher.index
    found = []
    for name in files:
        for q in questions(name):
            reading, candidates = searcher.evidence(q["question"])
            answers = [(g["source"], _norm(g["quote"])) for g in q["relevant"]]
            positive = np.array([any(index.chunks[p].source_id == s and quote in _norm(index.chunks[p].text)
                                     for s, quote in answers) for p in candidates.positions])
            found.append(Example(name, q["question"], reading, candidates, positive, bool(answers),
                                 off_topic(index, reading, candidates), bool(reading.missing)))
    return found


@contextmanager
def seed_index() -> Iterator[Callable[[], Searcher]]:
    """A temporary index of seeds/, and a way to open searchers on it that embed questions as the bot and
    `bot ask` do (each question once per process). Each searcher makes the generation's files afresh from Chroma, so
    that a rule bench/quality.py turns off is off in them too."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = IndexSettings(_env_file=None,  # type: ignore[call-arg]
                                 seeds_dir=ROOT / "seeds", chroma_path=Path(tmp) / "chroma")
        build(settings.seeds_dir, Store.open(settings), SentenceTransformerEmbedder.load())
        embedder = EncodingOnce(question_embedder(settings))

        def open_searcher() -> Searcher:
            shutil.rmtree(settings.generations, ignore_errors=True)
            return Searcher.open(settings, embedder)

        yield open_searcher


class EncodingOnce(Embedder):
    """An embedder that encodes each text once, for the life of the process: the out-of-fold runs ask the same
    questions many times."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self._known: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._known]
        if todo:
            self._known.update(zip(todo, self.inner.encode(todo), strict=True))
        return np.stack([self._known[t] for t in texts])
