"""Health a supervisor can probe: the bot answers `GET /health` on 127.0.0.1:HEALTH_PORT, and `python -m bot health`
asks it and prints one line, exiting 0 when healthy and 1 when not (or when no bot answers).

Healthy means all three hold:
- the gateway is connected: every shard this process runs has an open connection (a reconnect shows as not);
- the index is readable: the live pointer can be read from the store, now, and which generation the bot answers
  from (and, when another process switched it a moment ago, or put a new store in place of the one opened, the one
  it is about to load). The store is read on a thread of health's own, so a store that hangs never holds a thread
  that answers need;
- the question log is writable: a write goes through the log's own writer thread, as a question's would (or the
  log is off by QUESTION_LOG=false, which is no fault); with how many entries it lost since the bot started.

The server binds 127.0.0.1 only: it tells whoever asks which shards and generation run, nothing else.
"""

import asyncio
import http.client
import json
import logging
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.settings import Settings
from index.store.chroma import Store
from index.store.pointer import Pointer

if TYPE_CHECKING:
    from aiohttp import web

    from bot.questionlog.questionlog import QuestionLog
    from index.search.searcher import Searcher

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0  # each check gives up after this long: a probe must answer whatever hangs
REQUEST_SECONDS = 5.0  # a client's whole request must arrive within this, or its connection is closed
ASK_SECONDS = 3 * CHECK_SECONDS + 5


class Watched(Protocol):
    """What health reads of the bot (bot.client's Dossier, which starts the health server): named here, so that
    health imports nothing of the client."""

    settings: Settings
    searcher: "Searcher"
    questions: "QuestionLog"
    ws: Any

    def is_closed(self) -> bool: ...

    def is_ready(self) -> bool: ...


@dataclass
class Health:
    """The three checks: whether each passed, and a few words on each."""

    passed: dict[str, bool] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, passed: bool, said: str, **details: Any) -> None:
        self.passed[name], self.said[name], self.details[name] = passed, said, details

    @property
    def healthy(self) -> bool:
        return all(self.passed.values())

    @property
    def line(self) -> str:
        return f"{'healthy' if self.healthy else 'unhealthy'}: {'; '.join(self.said.values())}"

    def to_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "line": self.line,
                **{name: {"ok": self.passed[name], **self.details[name]} for name in self.passed}}


def gateway_state(bot: Watched) -> tuple[bool, str, dict[str, Any]]:
    """Whether every shard of this process has an open gateway connection."""
    from discord.ext import commands

    if bot.is_closed() or not bot.is_ready():
        return False, "gateway not connected (starting, or stopped)", {"shards": []}
    if isinstance(bot, commands.AutoShardedBot):
        shards = dict(sorted(bot.shards.items()))
        down = [shard for shard, info in shards.items() if info.is_closed()]
        ids = list(shards)
        details = {"shards": ids, "shard_count": bot.shard_count, "disconnected": down}
        if down:
            return False, f"gateway shards {down} of {ids} disconnected (reconnecting)", details
        return True, f"gateway connected (shards {ids} of {bot.shard_count})", details
    if bot.ws is None or not bot.ws.open:
        return False, "gateway disconnected (reconnecting)", {"shards": []}
    return True, "gateway connected", {"shards": [0], "shard_count": 1}


class IndexRead:
    """Reads the live pointer for health checks on a thread of its own, never one of the threads answers run on: a
    store that hangs holds this one thread, and a probe meanwhile waits on the same read rather than another."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")
        self._pending: asyncio.Future[Pointer | None] | None = None

    async def live(self, store: Store) -> Pointer | None:
        """The live pointer, within CHECK_SECONDS (TimeoutError past them); a replaced store is opened again first."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.wrap_future(self._thread.submit(_live_pointer, store))
            self._pending.add_done_callback(_seen)
        return await asyncio.wait_for(asyncio.shield(self._pending), CHECK_SECONDS)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def _seen(read: "asyncio.Future[Pointer | None]") -> None:
    """Marks a read's failure as seen: the probes that gave up waiting for it said so already."""
    if not read.cancelled():
        read.exception()


def _live_pointer(store: Store) -> Pointer | None:
    store.reopen_if_replaced()
    return store.pointer()


async def check(bot: Watched, reads: IndexRead) -> Health:
    """The bot's health, each check bounded by CHECK_SECONDS."""
    health = Health()
    connected, said, details = gateway_state(bot)
    health.add("gateway", connected, said, **details)

    serving = bot.searcher.index.pointer
    try:
        live = await reads.live(bot.searcher.store)
    except Exception as error:  # whatever keeps the store from being read: the probe says so, in a few words
        health.add("index", False, f"index not readable ({type(error).__name__}: {error}); answering from "
                                   f"generation {serving.generation} loaded before", generation=serving.generation)
    else:
        if live is None:
            health.add("index", False, f"index not readable (no live generation); answering from generation "
                                       f"{serving.generation} loaded before", generation=serving.generation)
        else:
            coming = (f", generation {live.generation} (built {live.built_at}) live and loading" if live != serving
                      else "")
            health.add("index", True, f"index readable, generation {serving.generation}{coming}",
                       generation=serving.generation, live=live.generation)

    questions = bot.questions
    lost = f"{questions.lost:,} entries lost since start"
    if not bot.settings.question_log:
        health.add("log", True, "question log off (QUESTION_LOG=false)", writable=False, lost=0)
    elif not questions.enabled:
        health.add("log", False, f"question log off: {questions.off}", writable=False, lost=questions.lost)
    else:
        try:
            await asyncio.wait_for(asyncio.wrap_future(questions.probe()), CHECK_SECONDS)
        except Exception as error:  # the log's own errors, a timeout: not writable, and why
            health.add("log", False, f"question log not writable ({type(error).__name__}: {error}); {lost}",
                       writable=False, lost=questions.lost)
        else:
            health.add("log", True, f"question log writable, {lost}", writable=True, lost=questions.lost)
    return health


class HealthServer:
    """`GET /health` on 127.0.0.1:port: the checks as JSON, status 200 when healthy and 503 when not."""

    def __init__(self, bot: Watched, port: int) -> None:
        self.bot = bot
        self.port = port
        self.reads = IndexRead()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/health", self._health)
        # A connection that has not sent a whole request within REQUEST_SECONDS is closed (aiohttp's default: an hour).
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=REQUEST_SECONDS)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        log.info("health: http://127.0.0.1:%d/health (or python -m bot health)", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.reads.close()

    async def _health(self, request: "web.Request") -> "web.Response":
        from aiohttp import web

        health = await check(self.bot, self.reads)
        return web.json_response(health.to_json(), status=200 if health.healthy else 503)


def probe(settings: Settings) -> tuple[bool, str]:
    """Asks the bot on this host (HEALTH_PORT) how it is: healthy or not, and its one line. Whatever else answers
    there (nothing, another program) is unhealthy, with what it was."""
    url = f"http://127.0.0.1:{settings.health_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=ASK_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # 503: unhealthy, with the same JSON
        body = error.read()
    except (OSError, http.client.HTTPException) as error:
        return False, (f"unhealthy: no bot answers at {url} ({getattr(error, 'reason', error)}): it is not running, "
                       "is still starting, or runs with another HEALTH_PORT")
    try:
        said = json.loads(body)
        return bool(said["healthy"]), str(said["line"])
    except (ValueError, TypeError, KeyError):
        return False, (f"unhealthy: what answers at {url} is not Dossier's health check: another program may use "
                       "HEALTH_PORT, or the bot runs with another")
