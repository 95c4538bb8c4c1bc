"""Against a real Chroma server (`chroma run`): the CLIs round trip, and the build lease keeps one writer."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build import build
from index.lock import LEASE_ID, BuildRunning
from index.settings import IndexSettings
from index.store import META_COLLECTION, Store
from tests.conftest import ROOT, FakeEmbedder, build_held_open

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """A `chroma run` on a free local port, up once its heartbeat answers; always terminated."""
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    process = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the Chroma server did not answer its heartbeat in 60 s"
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_build_and_ask_work_against_a_chroma_server(server: int, seeds_copy: Path, tmp_path: Path):
    """`index build --json` and `bot ask --format json` run as subprocesses against the server, not a folder."""
    unused = tmp_path / "embedded-store"
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server), "SEEDS_DIR": str(seeds_copy),
           "CHROMA_PATH": str(unused), "HF_HUB_OFFLINE": "1"}
    env.pop("DISCORD_TOKEN", None)
    first = run(["index", "build", "--json"], env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout.splitlines()[-1])
    assert (report["documents"], report["errors"]) == (5, []) and report["embedded"] == report["chunks"] > 0

    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()
    second = run(["index", "build", "--json"], env)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout.splitlines()[-1])
    assert (report["removed"], report["unchanged"], report["embedded"]) == (1, 4, 0)

    asked = run(["bot", "ask", "--format", "json", "-"], env,
                stdin="Why did Iran support the Taliban?\nWhat is the capital of Peru?\n")
    assert asked.returncode == 0, asked.stderr
    answers = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [a["answered"] for a in answers] == [True, False]
    for passage in answers[0]["passages"]:
        source = (seeds_copy / passage["source"]["id"]).read_text(encoding="utf-8")
        assert " ".join(passage["quote"].split()) in " ".join(source.split())
    assert not unused.exists()


def test_the_lease_keeps_builds_on_two_clients_apart(server: int, seeds_copy: Path):
    """Two processes' clients of one server: the second build is refused while the first holds the lease."""
    settings = IndexSettings(_env_file=None, seeds_dir=seeds_copy, chroma_host="127.0.0.1",  # type: ignore[call-arg]
                             chroma_port=server)
    first_store, second_store = Store.open(settings), Store.open(settings)
    with build_held_open(seeds_copy, first_store, "moderator Ana") as results, \
            pytest.raises(BuildRunning, match="already running by moderator Ana"):
        build(seeds_copy, second_store, FakeEmbedder(), built_by="cli")
    assert len(results) == 1 and second_store.pointer() is not None
    meta = second_store.client.get_collection(META_COLLECTION)
    assert meta.get(ids=[LEASE_ID])["ids"] == []  # released
    assert not build(seeds_copy, second_store, FakeEmbedder()).switched
