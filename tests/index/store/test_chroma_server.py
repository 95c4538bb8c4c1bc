"""Against a real Chroma server (`chroma run`): the CLIs round trip, the build lease keeps one writer, bot
processes follow builds and rollbacks, and a server killed mid-build costs nothing but a message."""

import contextlib
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

from index.builds.pipeline import build
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from index.store.lock import LEASE_ID, BuildRunning
from index.store.pointer import META_COLLECTION
from tests.bot.bot_worker import BotProcess
from tests.conftest import ROOT, FakeEmbedder, build_held_open
from tests.index.builds.test_checks_rollback import HERAT

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chroma_server(data: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`chroma run` on `port` over the folder `data`, up once its heartbeat answers; always ended."""
    log = data.with_suffix(".log").open("ab")
    process = subprocess.Popen([str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, data.with_suffix(".log").read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the Chroma server did not answer its heartbeat in 60 s"
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """A `chroma run` on a free local port."""
    port = free_port()
    with chroma_server(tmp_path / "server-data", port):
        yield port


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_build_and_ask_work_against_a_chroma_server(server: int, seeds_copy: Path, tmp_path: Path):
    """`index build --json` and `bot ask --format json` run as subprocesses against the server, not a folder."""
    unused = tmp_path / "embedded-store"
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server), "SEEDS_DIR": str(seeds_copy),
           "CHROMA_PATH": str(unused), "GENERATIONS_PATH": str(tmp_path / "generations"), "HF_HUB_OFFLINE": "1"}
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
                             chroma_port=server, generations_path=seeds_copy.parent / "generations")
    first_store, second_store = Store.open(settings), Store.open(settings)
    with build_held_open(seeds_copy, first_store, "moderator Ana") as results, \
            pytest.raises(BuildRunning, match="already running by moderator Ana"):
        build(seeds_copy, second_store, FakeEmbedder(), built_by="cli")
    assert len(results) == 1 and second_store.pointer() is not None
    meta = second_store.client.get_collection(META_COLLECTION)
    assert meta.get(ids=[LEASE_ID])["ids"] == []  # released
    assert not build(seeds_copy, second_store, FakeEmbedder()).switched


def test_two_bots_on_one_server_follow_a_rollback(server: int, seeds_copy: Path, tmp_path: Path) -> None:
    """Two bot processes answer from a new build once they see it, and both go back to the previous generation's
    answers, byte for byte, after `python -m index rollback`. Each is a host of its own, which makes its copy of
    each generation's files from the server the first time it loads it."""
    settings = IndexSettings(_env_file=None, seeds_dir=seeds_copy, chroma_host="127.0.0.1",  # type: ignore[call-arg]
                             chroma_port=server, generations_path=tmp_path / "builder")
    store = Store.open(settings)
    build(seeds_copy, store, FakeEmbedder())
    question = next(c.text for c in Searcher(store, FakeEmbedder()).index.chunks
                    if c.source_id == HERAT and 200 < len(c.text) < 1000)
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server), "SEEDS_DIR": str(seeds_copy),
           "EMBEDDING_MODEL": FakeEmbedder().name, "INDEX_CHECK_SECONDS": "0.5", "ASK_COOLDOWN_SECONDS": "0",
           "HF_HUB_OFFLINE": "1"}
    bots = [BotProcess({**env, "DATABASE_PATH": str(tmp_path / f"log-{n}.sqlite3"),
                        "GENERATIONS_PATH": str(tmp_path / f"host-{n}")}, question) for n in range(2)]
    try:
        first = [bot.next() for bot in bots]
        assert [seen["generation"] for seen in first] == [1, 1] and first[0]["answer"] == first[1]["answer"]
        (seeds_copy / HERAT).unlink()
        assert build(seeds_copy, store, FakeEmbedder()).generation == 2
        built = [bot.next() for bot in bots]
        assert [seen["generation"] for seen in built] == [2, 2] and built[0]["answer"] != first[0]["answer"]

        rolled = run(["index", "rollback", "--json"], env)
        assert rolled.returncode == 0, rolled.stderr
        back = [bot.next() for bot in bots]
    finally:
        for bot in bots:
            bot.stop()
    assert [seen["generation"] for seen in back] == [1, 1]
    assert [json.dumps(seen) for seen in back] == [json.dumps(seen) for seen in first]
    for n in range(2):
        assert len([p for p in (tmp_path / f"host-{n}").iterdir() if p.name.startswith("g")]) == 2


def test_a_server_killed_mid_build_is_one_line_and_the_next_build_takes_over_its_lease(tmp_path: Path,
                                                                                      seeds_copy: Path):
    """The server dies while a build holds its lease: exit 69 and what to do; after a restart the old answers are
    served, and the next build takes over the dead build's lease and says so."""
    port, data = free_port(), tmp_path / "server-data"
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port), "SEEDS_DIR": str(seeds_copy),
           "GENERATIONS_PATH": str(tmp_path / "generations"), "HF_HUB_OFFLINE": "1"}
    env.pop("DISCORD_TOKEN", None)
    questions = "Why did Iran support the Taliban?\nWhat is the capital of Peru?\n"
    with chroma_server(data, port) as process:
        assert run(["index", "build"], env).returncode == 0
        before = run(["bot", "ask", "--format", "json", "-"], env, stdin=questions).stdout
        for n in range(6):  # enough new passages that the build is still embedding when the server dies
            paragraphs = [f"Dispatch {n}.{i}: envoys in Herat spoke about water, fuel and trade across the border "
                          f"on day {i}, officials said." for i in range(60)]
            (seeds_copy / f"dispatch{n}.txt").write_text("Dispatches\n\n" + "\n\n".join(paragraphs) + "\n",
                                                         encoding="utf-8")
        building = subprocess.Popen([sys.executable, "-m", "index", "build"], cwd=ROOT, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        meta = Store.open(IndexSettings(_env_file=None, chroma_host="127.0.0.1",  # type: ignore[call-arg]
                                        chroma_port=port)).client.get_collection(META_COLLECTION)
        deadline = time.monotonic() + 120
        while not meta.get(ids=[LEASE_ID])["ids"]:
            assert building.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.kill()
        process.wait()
        _, errors = building.communicate(timeout=300)
    assert building.returncode == 69, errors
    assert errors.startswith(f"error: Cannot reach the Chroma server at 127.0.0.1:{port}. Start it")
    assert "Traceback" not in errors

    with chroma_server(data, port):
        assert run(["bot", "ask", "--format", "json", "-"], env, stdin=questions).stdout == before
        rebuilt = run(["index", "build", "--json"], env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        report = json.loads(rebuilt.stdout.splitlines()[-1])
        assert report["switched"] and report["added"] == 6
        assert f"pid {building.pid}" in report["took_over"]
        assert report["took_over"].endswith("that process is no longer running")
