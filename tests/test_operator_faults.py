"""Faults an operator meets, through the real entry points in this process: a message saying what to do, the old
answers kept, and no traceback. (The command lines as subprocesses, and a real full disk: test_operator_cli.py.)"""

import errno
import http.server
import json
import logging
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import chromadb
import discord
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

import bot.__main__ as bot_main
import bot.client
import index.__main__ as index_main
import index.commands.build
from bot.client import Dossier
from bot.settings import Settings
from index.builds.pipeline import build
from index.diagnose import EXIT_ERROR, EXIT_SETTINGS, EXIT_UNAVAILABLE, diagnose
from index.model.embedding import SentenceTransformerEmbedder
from index.search.searcher import Searcher
from index.settings import IndexSettings, SettingsError, read_settings
from index.store import lock
from index.store.chroma import Store
from index.store.pointer import SQLITE_FILE, StoreDamaged
from tests.bot.harness import settings_for
from tests.conftest import FakeEmbedder, make_settings

QUESTION = "Iran sent weapons to the Taliban and trained their fighters"


def answers(settings: IndexSettings) -> list[str]:
    return [hit.chunk.id for hit in Searcher(Store.open(settings), FakeEmbedder()).search(QUESTION).hits]


@pytest.fixture
def live(tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch) -> IndexSettings:
    """A built index of the seeds (fake embedder), named by SEEDS_DIR and CHROMA_PATH for the entry points."""
    settings = make_settings(tmp_path, seeds_copy)
    build(seeds_copy, Store.open(settings), FakeEmbedder())
    monkeypatch.setenv("SEEDS_DIR", str(seeds_copy))
    monkeypatch.setenv("CHROMA_PATH", str(settings.chroma_path))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "sentence-transformers")  # no ONNX export of the fake embedder
    monkeypatch.setattr(SentenceTransformerEmbedder, "load", lambda name: FakeEmbedder())
    return settings


def test_a_full_disk_mid_build_is_one_line_and_the_old_index_answers(
        live: IndexSettings, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """ENOSPC while writing the new generation: `index build` says the disk is full, exits 1; nothing changes."""
    before, pointer = answers(live), Store.open(live).pointer()
    changed = seeds_copy / "003_eb7467070494d04b.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more paragraph of text, said officials.\n",
                       encoding="utf-8")

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Store, "add", disk_full)
    assert index_main.main(["build"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"error: The disk holding {live.chroma_path} is full. Free some space" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert Store.open(live).pointer() == pointer and answers(live) == before
    monkeypatch.undo()
    report = build(seeds_copy, Store.open(live), FakeEmbedder())  # space freed: the next build goes through
    assert report.switched and report.changed == 1


def test_verbose_shows_the_traceback(live: IndexSettings, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]):
    """With -v the same failure prints its traceback, then the one-line message."""
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the build")

    monkeypatch.setattr(index.commands.build, "build", broken)
    assert index_main.main(["build"]) == 70
    assert "Traceback" not in capsys.readouterr().err
    assert index_main.main(["build", "-v"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: Unexpected error (RuntimeError")


def garble(database: Path, how: str) -> None:
    data = bytearray(database.read_bytes())
    if how == "header":
        data[:100] = bytes(100)
    else:  # bytes flipped all through the file, as a failing disk does
        rng = random.Random(7)
        for i in range(200, len(data), 997):
            data[i] = rng.randrange(256)
    database.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["header", "flipped bytes"])
def test_a_garbled_store_is_named_with_the_way_to_rebuild_it(live: IndexSettings, how: str,
                                                             capsys: pytest.CaptureFixture[str]):
    """`bot ask` on a damaged store says to delete it and rebuild, instead of a traceback or a native crash."""
    garble(live.chroma_path / SQLITE_FILE, how)
    with pytest.raises(StoreDamaged):
        Store.open(live)
    assert bot_main.main(["ask", "anything"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"error: The Chroma store at {live.chroma_path} is damaged. Delete that folder and run "
                          "`python -m index build`")
    assert "Traceback" not in err


def write_lease(meta: chromadb.Collection, holder: dict[str, object]) -> None:
    meta.upsert(ids=[lock.LEASE_ID], embeddings=np.zeros((1, 1), np.float32), documents=[json.dumps(holder)])


@pytest.fixture
def meta(monkeypatch: pytest.MonkeyPatch) -> chromadb.Collection:
    monkeypatch.setattr(lock, "SETTLE_SECONDS", 0.01)
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_or_create_collection(f"lease-{uuid.uuid4().hex[:8]}", embedding_function=None)


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_over(meta: chromadb.Collection):
    """A build killed with its lease unexpired no longer blocks: the next build takes over and says whose it was."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_lease(meta, {"owner": "command line", "host": socket.gethostname(), "pid": gone.pid,
                       "since": "2026-01-01T00:00:00+00:00", "token": "old", "expires": time.time() + 60})
    with lock.lease(meta, "moderator Ana") as held:
        held.check()
    assert held.took_over is not None
    assert f"pid {gone.pid}" in held.took_over and "no longer running" in held.took_over


def test_a_lease_of_a_live_process_is_respected(meta: chromadb.Collection):
    """A lease whose holder runs on this host, and one from another host, still refuse a second build."""
    for host, pid in [(socket.gethostname(), 1), ("other-host", 999_999)]:
        write_lease(meta, {"owner": "command line", "host": host, "pid": pid, "since": "2026-01-01T00:00:00+00:00",
                           "token": "old", "expires": time.time() + 60})
        with pytest.raises(lock.BuildRunning), lock.lease(meta, "moderator Ana"):
            pass


def test_an_expired_lease_is_reported_as_taken_over(meta: chromadb.Collection):
    """A lease past its time is taken over, and the build can say so."""
    write_lease(meta, {"owner": "command line", "host": "other-host", "pid": 5, "since": "2026-01-01T00:00:00+00:00",
                       "token": "old", "expires": time.time() - 1})
    with lock.lease(meta, "moderator Ana") as held:
        assert held.took_over is not None and "expired" in held.took_over


BAD_SETTINGS = {
    "MODERATOR_ROLE_IDS": ("abc", "MODERATOR_ROLE_IDS must be comma-separated role ids (numbers)"),
    "CHROMA_PORT": ("abc", "CHROMA_PORT must be a port number from 1 to 65535 (it is 'abc')"),
    "ASK_COOLDOWN_SECONDS": ("-1", "ASK_COOLDOWN_SECONDS must be a number of seconds, 0 or more"),
    "SHARDED": ("maybe", "SHARDED must be true or false"),
}


@pytest.mark.parametrize("name", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_naming_it(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]):
    """A bad value stops `bot ask` with exit 2 and a line naming the setting and what it must be."""
    value, message = BAD_SETTINGS[name]
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        read_settings(Settings, tmp_path / ".env")
    assert bot_main.main(["ask", "anything"]) == EXIT_SETTINGS
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and "Traceback" not in err and "pydantic" not in err


def test_a_bad_env_line_is_named_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """A .env line that is not NAME=value is reported once, with its file and line; the other lines apply."""
    env = tmp_path / ".env"
    env.write_text("SEEDS_DIR=/srv/corpus\nthis line is not a setting\nCHROMA_PATH=/srv/index\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        settings = read_settings(Settings, env)
    assert (settings.seeds_dir, settings.chroma_path) == (Path("/srv/corpus"), Path("/srv/index"))
    assert [r.getMessage() for r in caplog.records] == [
        f"{env}, line 2: not a NAME=value setting; the line is ignored"]


def test_a_misspelt_setting_is_named_with_the_one_it_probably_means(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture):
    """DISCROD_TOKEN in .env and SEED_DIR in the environment are each named, with where they were set and the
    setting they probably mean; settings spelt right and other programs' variables are not."""
    env = tmp_path / ".env"
    env.write_text("DISCROD_TOKEN=not-a-real-token\nCHROMA_PATH=/srv/index\n", encoding="utf-8")
    monkeypatch.setenv("SEED_DIR", "/srv/corpus")
    monkeypatch.setenv("EDITOR", "vi")
    with caplog.at_level(logging.WARNING):
        settings = read_settings(Settings, env)
    assert settings.discord_token is None and settings.seeds_dir != Path("/srv/corpus")
    assert sorted(r.getMessage() for r in caplog.records) == [
        f"DISCROD_TOKEN (in {env}) is no setting of Dossier's, so it is ignored: did you mean DISCORD_TOKEN?",
        "SEED_DIR (in the environment) is no setting of Dossier's, so it is ignored: did you mean SEEDS_DIR?"]
    assert "not-a-real-token" not in caplog.text


@pytest.mark.parametrize("kind", [IndexSettings, Settings])
def test_relative_paths_are_read_from_the_project_folder(kind: type[IndexSettings], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    """SEEDS_DIR=seeds means the project's seeds wherever the command runs, for the index's settings and the
    bot's (which adds DATABASE_PATH); CHROMA_HOST alone means port 8000."""
    monkeypatch.chdir(tmp_path)
    settings = kind(_env_file=None, seeds_dir="seeds", chroma_path="data/chroma",  # type: ignore[call-arg]
                    onnx_cache="data/onnx", chroma_host="db.internal")
    root = Path(__file__).resolve().parent.parent
    assert (settings.seeds_dir, settings.chroma_path, settings.onnx_cache) == (
        root / "seeds", root / "data" / "chroma", root / "data" / "onnx")
    if isinstance(settings, Settings):
        assert settings.database_path == root / "data" / "dossier.sqlite3"
    assert settings.server_address == "db.internal:8000"


@pytest.mark.parametrize("opening", [Store.open, Store.open_live], ids=["for a build", "for questions"])
def test_an_unreachable_chroma_server_says_where_and_what_to_do(tmp_path: Path, opening: Callable[..., Store]):
    """A Chroma server that is not there: the message names host and port (never ":None") and how to start it,
    whether the process opens the store through chromadb (a build) or only reads its pointer (a question process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    settings = IndexSettings(_env_file=None, chroma_host="127.0.0.1", chroma_port=port)  # type: ignore[call-arg]
    with pytest.raises(Exception) as raised:
        opening(settings)
    failure = diagnose(raised.value, settings)
    assert failure.status == EXIT_UNAVAILABLE
    assert failure.message.startswith(f"Cannot reach the Chroma server at 127.0.0.1:{port}. Start it")


class _FakeDiscord(http.server.BaseHTTPRequestHandler):
    """Discord's API as it answers a bad token: 401 to GET /users/@me."""

    def do_GET(self) -> None:
        body = json.dumps({"message": "401: Unauthorized", "code": 0}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def discord_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeDiscord)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v10"
    server.shutdown()
    server.server_close()


@pytest.fixture
def bot_env(live: IndexSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.client, "question_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("EMBEDDING_MODEL", FakeEmbedder().name)  # the model `live` was built with
    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.bad-token.secret-part")


def test_a_rejected_token_is_one_line_saying_what_to_do(bot_env: None, discord_api: str,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]):
    """Discord answering 401: exit 2 and how to get a new token; no traceback, and the token is never shown."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord_api)
    assert bot_main.main([]) == EXIT_SETTINGS
    err = capsys.readouterr().err
    assert err.startswith("error: DISCORD_TOKEN was rejected by Discord. Copy a new token")
    assert "Traceback" not in err and "secret-part" not in err


def test_no_network_is_one_line_saying_what_to_do(bot_env: None, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]):
    """Discord out of reach: exit 69 and a line saying to check the network, not an aiohttp traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    assert bot_main.main([]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot reach Discord (") and "Check this machine's network" in err
    assert "Traceback" not in err


def test_the_bot_does_not_warn_about_voice(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Dossier has no voice features, so starting the client logs no warning about voice libraries."""
    with caplog.at_level(logging.WARNING, logger="discord"):
        Dossier(settings_for(make_settings(tmp_path)), object())  # type: ignore[arg-type]
    assert not [r for r in caplog.records if "voice" in r.getMessage()]
