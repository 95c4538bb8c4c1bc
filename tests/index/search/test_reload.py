"""Reload on the embedded store: a long-running searcher picks up what another process built, and so does `ask -`."""

import gc
import json
import os
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from index.builds.pipeline import build
from index.model.embedding import Embedder
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.bot.bot_worker import BotProcess
from tests.conftest import ROOT, FakeEmbedder, make_settings, on_topic_scorer

NEW_FACT = ("The camel fair at Zaranj drew four thousand traders from both sides of the border this spring, "
            "the governor's office said.")
QUESTION = "traders at the Zaranj camel fair"


def add_new_source(seeds: Path) -> None:
    (seeds / "005_camels.txt").write_text(f"Camel fair draws traders\n\n{NEW_FACT}\n", encoding="utf-8")


def test_a_searcher_on_the_embedded_store_loads_a_build_made_by_another_process(tmp_path: Path, seeds_copy: Path):
    """A build in another process moves the pointer; reload() loads it, and the new passage is quoted."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.move(seeds_copy, root / "seeds")
    settings = make_settings(root, root / "seeds")
    build(settings.seeds_dir, Store.open(settings), FakeEmbedder())
    searcher = Searcher(Store.open(settings), FakeEmbedder())
    before = searcher.index.pointer.generation
    add_new_source(root / "seeds")
    subprocess.run([sys.executable, "-m", "tests.index.builds.build_worker", "build", str(root)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    assert searcher.reload()
    assert searcher.index.pointer.generation == before + 1
    assert searcher.search(NEW_FACT).hits[0].chunk.source_id == "005_camels.txt"
    assert not searcher.reload()  # nothing newer
    # The same store then builds again in this process, over what the other process wrote.
    (root / "seeds" / "004_9fd61aad6fe509e9.txt").unlink()
    assert build(settings.seeds_dir, searcher.store, FakeEmbedder()).switched
    assert searcher.reload() and "004_9fd61aad6fe509e9.txt" not in {s.id for s, _ in searcher.sources()}


def test_a_reload_lets_the_old_snapshot_go(tmp_path: Path, seeds_copy: Path):
    """After a reload nothing holds the previous snapshot, the passages it read for questions, its lexicon and its
    BM25 index included: it is gone at once, without waiting for the garbage collector (nothing in it refers back
    to it), so a bot that follows many builds does not grow with each one. Twenty switches leave one snapshot."""
    settings = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(settings), FakeEmbedder())
    searcher = Searcher(Store.open(settings), FakeEmbedder(), scorer=on_topic_scorer())
    snapshots: list[weakref.ref[object]] = []
    gc.disable()
    try:
        for switch in range(20):
            searcher.search(NEW_FACT)  # reads passages as evidence into the snapshot's cache, and its lexicon and BM25
            snapshots.append(weakref.ref(searcher.index))
            if switch % 2:
                (seeds_copy / "005_camels.txt").unlink()
            else:
                add_new_source(seeds_copy)
            build(seeds_copy, searcher.store, FakeEmbedder())
            assert searcher.reload()
            assert sum(1 for ref in snapshots if ref() is not None) == 0
    finally:
        gc.enable()


@pytest.mark.slow
def test_ask_from_stdin_answers_from_a_generation_built_while_it_runs(tmp_path: Path, seeds_copy: Path,
                                                                       embedder: Embedder):
    """`bot ask -` looks for a new generation between questions, at most every INDEX_CHECK_SECONDS."""
    settings = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(settings), embedder)
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(settings.chroma_path),
           "HF_HUB_OFFLINE": "1", "INDEX_CHECK_SECONDS": "0.2"}
    asker = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--format", "json", "-"], cwd=ROOT, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert asker.stdin and asker.stdout
    try:
        asker.stdin.write(QUESTION + "\n")
        asker.stdin.flush()
        first = json.loads(asker.stdout.readline())
        add_new_source(seeds_copy)
        assert build(seeds_copy, Store.open(settings), embedder).switched
        time.sleep(0.3)
        asker.stdin.write(QUESTION + "\n")
        asker.stdin.flush()
        second = json.loads(asker.stdout.readline())
        _, errors = asker.communicate(timeout=120)
    finally:
        asker.kill()
    assert asker.returncode == 0, errors
    assert "005_camels.txt" not in {p["source"]["id"] for p in first["passages"]}
    assert second["answered"] and second["passages"][0]["source"]["id"] == "005_camels.txt"
    assert "Traceback" not in errors


def test_a_bot_on_the_embedded_store_follows_builds_and_rollbacks_from_other_processes(tmp_path: Path,
                                                                                      seeds_copy: Path):
    """What docs/scale.md supports: the bot answers from an embedded store while a build in another process
    adds a source, answers from that build once it is live, and goes back after `python -m index rollback`."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.move(seeds_copy, root / "seeds")
    settings = make_settings(root, root / "seeds")
    build(settings.seeds_dir, Store.open(settings), FakeEmbedder())
    env = {**os.environ, "SEEDS_DIR": str(settings.seeds_dir), "CHROMA_PATH": str(settings.chroma_path),
           "EMBEDDING_MODEL": FakeEmbedder().name, "INDEX_CHECK_SECONDS": "0.5", "ASK_COOLDOWN_SECONDS": "0",
           "DATABASE_PATH": str(tmp_path / "log.sqlite3"), "HF_HUB_OFFLINE": "1"}
    bot = BotProcess(env, QUESTION)
    try:
        first = bot.next()
        add_new_source(root / "seeds")
        built = subprocess.run([sys.executable, "-m", "tests.index.builds.build_worker", "build", str(root)], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
        assert json.loads(built.stdout)["switched"], built.stderr
        after_build = bot.next()
        rolled = subprocess.run([sys.executable, "-m", "index", "rollback"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert rolled.returncode == 0, rolled.stderr
        after_rollback = bot.next()
    finally:
        bot.stop()
    assert (first["generation"], after_build["generation"], after_rollback["generation"]) == (1, 2, 1)
    assert "Camel fair draws traders" not in json.dumps(first["answer"])
    assert "Camel fair draws traders" in json.dumps(after_build["answer"])
    assert after_rollback["answer"] == first["answer"]
