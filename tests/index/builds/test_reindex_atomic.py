"""Atomic reindex: a build that fails, or is killed at any stage, leaves the previous index answering as before."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from index.builds.pipeline import build
from index.search.searcher import Searcher
from index.store.chroma import Store
from index.store.pointer import StoreError
from tests.conftest import ROOT, FakeEmbedder, make_settings
from tests.index.builds import build_worker

WORDS = ["border", "water", "trade", "envoy", "militia", "province", "refugees", "treaty", "commander",
         "Herat", "Kabul", "Tehran", "Kandahar", "river", "drought", "sanctions", "fuel", "convoy", "embassy",
         "diplomats", "ministry", "shrine", "pilgrims", "market", "smuggling", "crossing", "talks",
         "delegation", "militants", "commanders", "supplies", "funding", "officials", "report", "analysts",
         "council"]
DOCS, PARAGRAPHS = 6, 120
CHANGED = [f"doc{i}.txt" for i in range(4)]  # 4 × 120 new passages + 120 added: two write steps of 500
REMOVED, ADDED, KEPT = "doc4.txt", "doc6.txt", "doc5.txt"


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(9, 14))).capitalize() + "."


def article(seed: str) -> str:
    rng = random.Random(seed)
    return f"Report {seed}\n\n" + "\n\n".join(f"{sentence(rng)} {sentence(rng)}" for _ in range(PARAGRAPHS)) + "\n"


def first_sentence(root: Path, name: str, paragraph: int = 5) -> str:
    return (root / "seeds" / name).read_text(encoding="utf-8").split("\n\n")[paragraph].split(". ")[0]


def worker(*args: str) -> Any:
    """The worker's build, ask or state, in this process: only the build that is killed needs a process of its own."""
    return json.loads(build_worker.run(*args))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], Any, Any]:
    """A first generation built in its own process, with the answers and contents it gives."""
    root = tmp_path_factory.mktemp("killed") / "base"
    (root / "seeds").mkdir(parents=True)
    for i in range(DOCS):
        (root / "seeds" / f"doc{i}.txt").write_text(article(f"doc{i}-v1"), encoding="utf-8")
    worker("build", str(root))
    questions = [first_sentence(root, name) for name in [*CHANGED[:2], REMOVED, KEPT]]
    return root, questions, worker("ask", str(root), *questions), worker("state", str(root))


def change_corpus(seeds: Path) -> None:
    for name in CHANGED:
        (seeds / name).write_text(article(f"{name}-v2"), encoding="utf-8")
    (seeds / REMOVED).unlink()
    (seeds / ADDED).write_text(article("doc6-v1"), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "done"), [
    ("reading", 3),        # corpus half read, nothing written
    ("embedding", 1),      # some passages embedded, nothing written
    ("writing", 1),        # the first 500 new records added
    ("writing", 1000),     # all new records added, the first removal marks written
    ("corroborating", 0),  # every record written, the partners not yet judged
    ("saving", 1),         # the new generation's first file written
    ("saving", 9),         # half its files written
    ("validating", 0),     # everything written, the files in place, the pointer not yet switched
])
def test_killed_build_leaves_previous_answers_and_next_build_completes(baseline, tmp_path: Path, stage: str,
                                                                       done: int):
    """SIGKILL at a stage: the old generation answers exactly as before; the next build cleans up and succeeds."""
    base, questions, answers_before, state_before = baseline
    root = tmp_path / "case"
    shutil.copytree(base, root)
    change_corpus(root / "seeds")

    build = subprocess.Popen([sys.executable, "-m", "tests.index.builds.build_worker", "build", str(root), "--pause",
                              f"{stage}:{done}"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = build.stdout.readline() if build.stdout else ""
        assert line.startswith("PAUSED"), line
        os.kill(build.pid, signal.SIGKILL)
    finally:
        build.kill()
        build.wait(timeout=30)
    assert build.returncode == -signal.SIGKILL

    assert worker("ask", str(root), *questions) == answers_before
    state = worker("state", str(root))
    assert (state["generation"], state["live"]) == (state_before["generation"], state_before["live"])
    assert state["files"] == state_before["files"] or stage in ("saving", "validating")

    report = worker("build", str(root))
    assert (report["changed"], report["added"], report["removed"], report["unchanged"]) == (4, 1, 1, 1)
    assert report["switched"] and report["errors"] == []
    state = worker("state", str(root))
    assert state["generation"] == state_before["generation"] + 1
    assert set(state["live"]) == {*CHANGED, KEPT, ADDED}
    assert state["live"][KEPT] == state_before["live"][KEPT]
    # Only the new generation and the records it retired are stored: the killed build's writes are gone.
    assert state["stored"] == state["chunks"] + sum(len(state_before["live"][n]) for n in [*CHANGED, REMOVED])
    after = worker("ask", str(root), *questions)
    assert after[3]["hits"][0] == answers_before[3]["hits"][0]  # the unchanged document's passage still answers
    retired = {chunk for name in [*CHANGED, REMOVED] for chunk in state_before["live"][name]}
    assert not {chunk for answer in after for chunk, _ in answer["hits"]} & retired
    # The files on this host: the new generation's and the previous one's, none of the killed build's.
    assert len(state["files"]) == 2 and state_before["files"][0] in state["files"]


def test_failed_build_keeps_the_previous_index_and_the_next_one_cleans_up(tmp_path: Path, seeds_copy: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """An error after the new records are written changes nothing readers see; the next build cleans up."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    first = build(seeds_copy, store, FakeEmbedder())
    searcher = Searcher(store, FakeEmbedder())
    question = "Iran and the Taliban share a long border"
    before = searcher.search(question).hits
    for path in seeds_copy.glob("0*.txt"):
        path.write_text(path.read_text(encoding="utf-8").replace("Taliban", "Taleban"), encoding="utf-8")
    written = store.chunks_collection(store.pointer().collection).count  # type: ignore[union-attr]

    def disk_full(*args: object) -> None:
        assert written() > first.chunks  # the new generation's records are in the store
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "mark_died", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build(seeds_copy, store, FakeEmbedder())
    monkeypatch.undo()
    assert not searcher.reload() and Searcher(store, FakeEmbedder()).search(question).hits == before
    report = build(seeds_copy, store, FakeEmbedder())
    assert report.switched and report.changed == 5
    collection = store.chunks_collection(store.pointer().collection)  # type: ignore[union-attr]
    assert collection.count() == report.chunks + first.chunks  # the new generation plus what it retired


def test_build_failing_validation_is_not_switched_to(tmp_path: Path, seeds_copy: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    """When the new generation's count does not match, the build fails and the pointer stays."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    pointer = store.pointer()
    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()
    monkeypatch.setattr(Store, "count_live", lambda self, collection, generation: 0)
    with pytest.raises(StoreError, match="keeping the old one"):
        build(seeds_copy, store, FakeEmbedder())
    assert store.pointer() == pointer
    monkeypatch.undo()
    assert build(seeds_copy, store, FakeEmbedder()).removed == 1


def test_build_whose_probe_query_misses_is_not_switched_to(tmp_path: Path, seeds_copy: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """When the vector index does not return a new passage for its own vector, the pointer stays."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    pointer = store.pointer()
    path = seeds_copy / "003_eb7467070494d04b.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing paragraph about the border talks.\n",
                    encoding="utf-8")
    add = Store.add
    monkeypatch.setattr(Store, "add", lambda self, collection, records, vectors: add(self, collection, records,
                                                                                     -vectors))
    with pytest.raises(StoreError, match="probe query"):
        build(seeds_copy, store, FakeEmbedder())
    assert store.pointer() == pointer
