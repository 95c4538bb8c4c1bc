"""Served throughout, one writer: questions during a reindex are answered, a second build is refused."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from index.builds.pipeline import build
from index.search.live_index import LiveIndex
from index.search.searcher import Searcher
from index.store import lock
from index.store.chroma import Store
from index.store.lock import BuildRunning, LockLost, file_lock
from tests.conftest import ROOT, FakeEmbedder, build_held_open, make_settings

CHANGED = "003_eb7467070494d04b.txt"


def test_questions_during_a_reindex_are_answered_from_one_generation(tmp_path: Path, seeds_copy: Path):
    """Threads asking while another thread builds and a third reloads: no errors, no answer mixing generations."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    build(seeds_copy, store, FakeEmbedder())
    searcher = Searcher(store, FakeEmbedder())
    old_ids = {c.id for c in searcher.index.chunks}
    questions = [c.text for c in searcher.index.chunks if c.source_id == CHANGED and "Taliban" in c.text][:6]
    assert len(questions) == 6
    path = seeds_copy / CHANGED
    path.write_text(path.read_text(encoding="utf-8").replace("Taliban", "Taleban"), encoding="utf-8")

    errors: list[BaseException] = []
    answers: list[set[str]] = []
    loads: list[set[str]] = []
    building, stop = threading.Event(), threading.Event()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:
                errors.append(exc)
                stop.set()
        return run

    def reindex() -> None:
        building.set()
        build(seeds_copy, store, FakeEmbedder(), progress=lambda p: time.sleep(0.02))

    def ask() -> None:
        building.wait()
        while not stop.is_set():
            for question in questions:
                answer = searcher.search(question)
                assert answer.answered, question
                answers.append({h.chunk.id for h in answer.hits})

    def reload() -> None:
        building.wait()
        while not stop.is_set():
            searcher.reload()
            loads.append({c.id for c in LiveIndex.load(store).chunks})  # a full read while the build writes

    builder = threading.Thread(target=guarded(reindex))
    readers = [threading.Thread(target=guarded(ask)) for _ in range(3)] + [threading.Thread(target=guarded(reload))]
    for thread in [*readers, builder]:
        thread.start()
    builder.join(timeout=120)
    deadline = time.monotonic() + 30  # questions keep coming until the reloading thread has the new generation
    while searcher.index.pointer != store.pointer() and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    for thread in readers:
        thread.join(timeout=60)

    assert errors == []
    searcher.reload()
    new_ids = {c.id for c in searcher.index.chunks}
    old_only, new_only = old_ids - new_ids, new_ids - old_ids
    assert old_only and new_only
    assert all(hits <= old_ids or hits <= new_ids for hits in answers)
    assert any(hits & old_only for hits in answers) and any(hits & new_only for hits in answers)
    assert all(ids in (old_ids, new_ids) for ids in loads) and old_ids in loads and new_ids in loads


def test_a_second_build_is_refused_while_one_runs(tmp_path: Path, seeds_copy: Path):
    """A build started during another raises BuildRunning naming the first; the first finishes normally."""
    store = Store.open(make_settings(tmp_path, seeds_copy))
    with build_held_open(seeds_copy, store, "moderator Ana") as results, \
            pytest.raises(BuildRunning, match=r"already running by moderator Ana \(pid \d+"):
        build(seeds_copy, Store.open(make_settings(tmp_path, seeds_copy)), FakeEmbedder(), built_by="cli")
    assert len(results) == 1 and store.pointer() is not None
    assert not build(seeds_copy, store, FakeEmbedder()).switched  # the lock was released


@pytest.mark.slow
def test_the_cli_says_a_build_is_running_and_exits_non_zero(tmp_path: Path, seeds_copy: Path):
    """`python -m index build` while another build holds the store prints a clear message and exits 75."""
    settings = make_settings(tmp_path, seeds_copy)
    env = {**os.environ, "SEEDS_DIR": str(seeds_copy), "CHROMA_PATH": str(settings.chroma_path),
           "HF_HUB_OFFLINE": "1"}
    with file_lock(settings.chroma_path, "moderator Ana"):
        result = subprocess.run([sys.executable, "-m", "index", "build", "--json"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
    assert result.returncode == 75
    assert "A reindex is already running by moderator Ana" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["build_running"] is True


@pytest.fixture
def meta() -> chromadb.api.models.Collection.Collection:
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_or_create_collection(f"lease-{uuid.uuid4().hex[:8]}", embedding_function=None)


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "SETTLE_SECONDS", 0.01)


def write_lease(meta: chromadb.api.models.Collection.Collection, expires: float, token: str = "other") -> None:
    holder = {"owner": "cli on host b", "host": "b", "pid": 1, "since": "2026-01-01T00:00:00+00:00",
              "token": token, "expires": expires}
    meta.upsert(ids=[lock.LEASE_ID], embeddings=np.zeros((1, 1), np.float32), documents=[json.dumps(holder)])


def test_a_lease_refuses_a_second_holder(meta):
    """While one process holds the server lease, another is told who holds it."""
    with (lock.lease(meta, "moderator Ana"), pytest.raises(BuildRunning, match="already running by moderator Ana"),
          lock.lease(meta, "cli")):
        pass
    with lock.lease(meta, "cli"):  # released, so free again
        pass


def test_an_expired_lease_is_taken_over(meta):
    """A lease left by a killed build stops blocking once it expires."""
    write_lease(meta, expires=time.time() - 1)
    with lock.lease(meta, "cli") as held:
        held.check()
    write_lease(meta, expires=time.time() + 60)
    with pytest.raises(BuildRunning, match="cli on host b"), lock.lease(meta, "cli"):
        pass


def test_a_lease_taken_over_fails_the_check_before_the_switch(meta):
    """A build whose lease another process overwrote is told so, rather than switching generations."""
    with lock.lease(meta, "cli") as held:
        write_lease(meta, expires=time.time() + 60, token="intruder")
        with pytest.raises(LockLost):
            held.check()
    assert meta.get(ids=[lock.LEASE_ID])["ids"] == [lock.LEASE_ID]  # the intruder's lease is left alone
