"""Reload on the embedded store: a long-running searcher picks up what another process built, and so does `ask -`."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import build
from index.embedding import Embedder
from index.search import Searcher
from index.store import Store
from tests.conftest import ROOT, FakeEmbedder, make_settings

NEW_FACT = ("The camel fair at Zaranj drew four thousand traders from both sides of the border this spring, "
            "the governor's office said.")
QUESTION = "How many traders came to the camel fair at Zaranj?"


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
    subprocess.run([sys.executable, "-m", "tests.build_worker", "build", str(root)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    assert searcher.reload()
    assert searcher.index.pointer.generation == before + 1
    assert searcher.search(NEW_FACT).hits[0].chunk.source_id == "005_camels.txt"
    assert not searcher.reload()  # nothing newer
    # The same store then builds again in this process, over what the other process wrote.
    (root / "seeds" / "004_9fd61aad6fe509e9.txt").unlink()
    assert build(settings.seeds_dir, searcher.store, FakeEmbedder()).switched
    assert searcher.reload() and "004_9fd61aad6fe509e9.txt" not in {s.id for s, _ in searcher.sources()}


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
