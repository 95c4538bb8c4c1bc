"""Shared fixtures: the real model loaded once per session, and a real Chroma index of the seeds."""

import functools
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from index.builds.moderator_checks import CHECKS_FILE
from index.builds.pipeline import build
from index.builds.report import BuildReport, Progress
from index.model.background import BACKGROUND_QUESTIONS
from index.model.embedding import Embedder, SentenceTransformerEmbedder
from index.search.features import PASSAGE, QUESTION, SOURCE
from index.search.scorer import Linear, Scorer
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.bot.questionlog.databases import Cluster, running_cluster

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# The evaluation files are an optional checkout beside the repository: a folder shared/eval next to its folder.
EVAL = ROOT.parent / "shared" / "eval"
NO_EVAL = ("the optional evaluation files are not checked out beside the repository (a folder shared/eval next to "
           "its folder)")


def wait_at_gate(gate: Path, timeout: float = 60) -> None:
    """Writes this process's id to gate/held, then waits until gate/release exists."""
    (gate / "held.tmp").write_text(str(os.getpid()))
    os.replace(gate / "held.tmp", gate / "held")
    deadline = time.monotonic() + timeout
    while not (gate / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


class FakeEmbedder(Embedder):
    """A tiny deterministic stand-in for fast unit tests: hashed bag of words. Never used for quality.

    With a `gate` folder, encode waits there first (see wait_at_gate), so a test can hold a build process.
    """

    def __init__(self, name: str = "fake-hash-64", dimension: int = 64, gate: Path | None = None) -> None:
        self.name = name
        self.dimension = dimension
        self.gate = gate
        self.calls = 0
        self.background = 0

    @property
    def passages(self) -> int:
        """How many texts it encoded, leaving out the background questions that calibrate the abstention bar."""
        return self.calls - self.background

    def recipe(self) -> Callable[[], Embedder]:
        return functools.partial(FakeEmbedder, self.name, self.dimension, self.gate)

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.gate is not None:
            wait_at_gate(self.gate)
        self.calls += len(texts)
        self.background += sum(1 for text in texts if text in BACKGROUND_QUESTIONS)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def on_topic_scorer() -> Scorer:
    """A scorer for plumbing tests with the fake embedder: it ranks by dense score, answers whatever clears the
    abstention bar and names nothing the corpus lacks, and counts every source as answering. The fitted scorer's
    weights are the real model's; never use this one for quality."""
    return Scorer(Linear.of(("dense_rank",), PASSAGE, [0.0], [1.0], [-1.0], 0.0),
                  Linear.of(("margin", "missing"), QUESTION, [0.0, 0.0], [1.0, 1.0], [1.0, -10.0], 0.0),
                  Linear.of(("source_best",), SOURCE, [0.0], [1.0], [0.0], 1.0), threshold=0.5)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster | None]:
    """A throwaway PostgreSQL cluster for the whole session, started the first time a test needs it; None where
    PostgreSQL is not installed."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return SentenceTransformerEmbedder.load()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def copy_of_seeds(folder: Path) -> Path:
    """A writable copy of the seeds at `folder`, without the checks.toml shipped with them: a test that wants checks
    writes its own, and a build that removes or rewrites a source is not held back by a check of it."""
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns(CHECKS_FILE))
    return folder


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the seeds folder, without its checks (see copy_of_seeds)."""
    return copy_of_seeds(tmp_path / "seeds")


def make_settings(tmp: Path, seeds: Path = SEEDS) -> IndexSettings:
    return IndexSettings(_env_file=None, seeds_dir=seeds, chroma_path=tmp / "chroma")  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> IndexSettings:
    """Settings of a real embedded Chroma index built once from the seeds with the real model."""
    settings = make_settings(tmp_path_factory.mktemp("seeds-index"))
    build(settings.seeds_dir, Store.open(settings), embedder)
    return settings


def copy_of_seed_index(seeds_settings: IndexSettings, folder: Path) -> Path:
    """A copy of the session's seed index at folder/chroma, with its generation's files beside it, for a test that
    writes to its index."""
    shutil.copytree(seeds_settings.chroma_path, folder / "chroma")
    shutil.copytree(seeds_settings.generations, folder / "chroma.generations")
    return folder / "chroma"


@pytest.fixture(scope="session")
def searcher(seeds_settings: IndexSettings, embedder: Embedder) -> Iterator[Searcher]:
    yield Searcher.open(seeds_settings, embedder)


@contextmanager
def build_held_open(seeds: Path, store: Store, built_by: str) -> Iterator[list[BuildReport]]:
    """Runs a build in a thread and holds it at its first progress step until the block ends.

    Yields the list its report lands in once it is released and finished.
    """
    started, release = threading.Event(), threading.Event()
    results: list[BuildReport] = []

    def hold(progress: Progress) -> None:
        started.set()
        release.wait(timeout=60)

    first = threading.Thread(target=lambda: results.append(
        build(seeds, store, FakeEmbedder(), built_by=built_by, progress=hold)))
    first.start()
    try:
        assert started.wait(timeout=60)
        yield results
    finally:
        release.set()
        first.join(timeout=60)
