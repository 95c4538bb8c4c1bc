"""The health port under trouble: a hung Chroma server and a crowd of probes do not stop answers, a half-sent
request is closed soon, and a store deleted and rebuilt under the bot is noticed, served, and reported."""

import asyncio
import contextlib
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.questionlog.vectors import VectorKeepingEmbedder
from index.builds.child import build_in_child
from index.builds.pipeline import build
from index.search.searcher import Searcher
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.bot.harness import MODERATOR, Gateway, fake_index_gateway, settings_for
from tests.conftest import FakeEmbedder, make_settings, on_topic_scorer
from tests.index.store.test_chroma_server import chroma_server, free_port

QUESTION = "Who trains Taliban fighters?"


class HangingProxy:
    """A TCP proxy in front of a server; once `hang` is set it accepts connections and passes nothing either way,
    as a server that stopped answering does. `close` ends every connection it holds."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.hang = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(client)
            if self.hang.is_set():
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.held.append(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                if not self.hang.is_set():
                    target.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for held in self.held:
            with contextlib.suppress(OSError):
                held.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it, which close alone does not
            held.close()


@pytest.fixture
def proxied_server(tmp_path: Path) -> Iterator[HangingProxy]:
    """A `chroma run` server reached through a HangingProxy."""
    port = free_port()
    with chroma_server(tmp_path / "server-data", port):
        proxy = HangingProxy(port)
        yield proxy
        proxy.close()


async def probe(session: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    async with session.get(f"http://127.0.0.1:{port}/health", timeout=aiohttp.ClientTimeout(total=30)) as response:
        return dict(await response.json())


@pytest.mark.slow
async def test_a_hung_chroma_server_and_many_probes_do_not_stop_answers(proxied_server: HangingProxy,
                                                                       tmp_path: Path, seeds_copy: Path):
    """With the Chroma server answering nothing, twelve health probes at once each say the index is not readable,
    and an /ask asked after them is answered within seconds: the probes' reads hold no thread answers need."""
    index = IndexSettings(_env_file=None, seeds_dir=seeds_copy, chroma_path=tmp_path / "unused",  # type: ignore[call-arg]
                          chroma_host="127.0.0.1", chroma_port=proxied_server.port)
    embedder = FakeEmbedder()
    build(seeds_copy, Store.open(index), embedder)
    searcher = Searcher.open(index, VectorKeepingEmbedder(embedder), scorer=on_topic_scorer())
    health_port = free_port()
    gateway = await Gateway.connect(settings_for(index, health_port=health_port, chroma_host="127.0.0.1",
                                                 chroma_port=proxied_server.port, index_check_seconds=0), searcher)
    try:
        proxied_server.hang.set()
        async with aiohttp.ClientSession() as session:
            said = await asyncio.gather(*(probe(session, health_port) for _ in range(12)))
        assert all(not s["healthy"] and not s["index"]["ok"] for s in said), said
        started = time.monotonic()
        requests = await asyncio.wait_for(gateway.command("ask", question=QUESTION), 20)
        assert time.monotonic() - started < 10
        assert [r.kind for r in requests] == ["defer", "followup"] and requests[1].message["embeds"]
    finally:
        proxied_server.close()  # frees whatever thread still waits on it, fix or not
        await gateway.close()


@pytest_asyncio.fixture(loop_scope="function")
async def healthy(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    """The bot over a fake-embedder index, its health on a port of its own."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, health_port=free_port())
    yield gateway
    await gateway.close()


async def test_a_half_sent_request_to_the_health_port_is_closed_soon(healthy: Gateway):
    """A client that sends half a request and waits is cut off within seconds, not kept for an hour."""
    port = healthy.bot.settings.health_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    await writer.drain()
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 15) == b""
    assert time.monotonic() - started < 10
    writer.close()
    async with aiohttp.ClientSession() as session:  # a whole request is answered as before
        assert (await probe(session, port))["healthy"] is False  # the harness's gateway is not connected


async def test_a_replaced_store_is_noticed_and_served(healthy: Gateway, seeds_copy: Path, tmp_path: Path):
    """The Chroma folder deleted and rebuilt under a running bot (the advice for a damaged store), then a
    /dossier reindex: the bot answers from the new store's generation, and health reports that generation."""
    bot = healthy.bot
    index = make_settings(tmp_path, seeds_copy)
    assert bot.searcher.index.pointer.generation == 1
    shutil.rmtree(index.chroma_path)
    build_in_child(index, FakeEmbedder().recipe(), built_by="operator")  # `python -m index build`: generation 1
    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()
    requests = await healthy.command("dossier reindex", who=MODERATOR)
    assert "now live (generation 2)" in requests[-1].message["content"]
    assert bot.searcher.index.pointer.generation == 2
    assert "004_9fd61aad6fe509e9.txt" not in {source.id for source, _ in bot.searcher.sources()}
    async with aiohttp.ClientSession() as session:
        said = await probe(session, bot.settings.health_port)
    assert said["index"]["generation"] == 2 and "index readable, generation 2" in said["line"], said
