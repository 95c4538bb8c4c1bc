"""Discord as a bot process sees it, on 127.0.0.1: the REST API it calls and the gateway it connects to.

Bot processes started by `tests/shard_worker.py` log in, identify their shards over a real websocket, and get READY
and a GUILD_CREATE for each server of their shard, as Discord sends them: a server's events go to shard
(server id >> 22) % shard count. Members are simulated by `ask`: an INTERACTION_CREATE for `/ask` is sent down the
websocket of the shard that owns the server, and the answer is the follow-up message the bot then posts. Every
REST request is recorded. Only Discord is fake: everything in the bot processes is the real code.
"""

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.bot.harness import (
    APP_ID,
    BOT_USER,
    MEMBER_PERMISSIONS,
    TIMESTAMP,
    member,
)

HEARTBEAT_MS = 41_250
HELLO, IDENTIFY, RESUME, HEARTBEAT, HEARTBEAT_ACK, DISPATCH, INVALID_SESSION = 10, 2, 6, 1, 11, 0, 9


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to."""
    return (guild_id >> 22) % shard_count


def guild_payload(guild_id: int, channel_id: int) -> dict[str, Any]:
    """GUILD_CREATE for a server with one text channel."""
    everyone = {"id": str(guild_id), "name": "@everyone", "position": 0, "permissions": str(MEMBER_PERMISSIONS),
                "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None}
    channel = {"id": str(channel_id), "type": 0, "name": "general", "position": 0, "permission_overwrites": [],
               "guild_id": str(guild_id), "nsfw": False, "topic": None, "last_message_id": None}
    return {"id": str(guild_id), "name": f"Server {guild_id}", "icon": None, "owner_id": str(BOT_USER["id"]),
            "unavailable": False, "member_count": 2, "large": False, "features": [], "emojis": [], "stickers": [],
            "roles": [everyone], "channels": [channel], "threads": [], "members": [], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": []}


@dataclass
class Answer:
    """What a simulated member got: the follow-up message (None if none came in time) and how long it took; and how
    long the bot took to acknowledge the interaction (its deferral), None if it never did."""

    message: dict[str, Any] | None
    seconds: float
    shard: int
    deferred: float | None = None


@dataclass
class Shard:
    socket: web.WebSocketResponse
    sequence: int = 0


@dataclass
class FakeDiscord:
    """The fake Discord for `shard_count` shards and the servers `guilds` (id → channel id)."""

    guilds: dict[int, int]
    shard_count: int
    port: int = 0
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    identified: list[tuple[int, int]] = field(default_factory=list)  # (shard, shard count) of each IDENTIFY
    shards: dict[int, Shard] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(970000000000000001))
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _deferred: dict[str, float] = field(default_factory=dict)  # token → when the interaction's callback came
    _connected: dict[int, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for shard in list(self.shards.values()):
            await shard.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def connected(self, shard: int, timeout: float = 120) -> None:
        """Waits until a bot process has identified `shard` and been sent its servers."""
        await asyncio.wait_for(self._connected[shard].wait(), timeout)

    async def drop(self, shard: int) -> None:
        """Closes a shard's connection as Discord does when it asks a bot to reconnect (it may resume)."""
        self._connected[shard].clear()
        await self.shards.pop(shard).socket.close(code=4000)

    # The gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await socket.send_json({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_MS}})
        shard_id: int | None = None
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message["op"] == HEARTBEAT:
                await socket.send_json({"op": HEARTBEAT_ACK})
            elif message["op"] == IDENTIFY:
                shard_id, count = message["d"].get("shard", [0, 1])
                self.identified.append((shard_id, count))
                self.shards[shard_id] = Shard(socket)
                await self._ready(shard_id, count)
            elif message["op"] == RESUME:  # nothing to replay here: start a new session
                await socket.send_json({"op": INVALID_SESSION, "d": False})
        if shard_id is not None and self.shards.get(shard_id, None) is not None \
                and self.shards[shard_id].socket is socket:
            del self.shards[shard_id]
            self._connected[shard_id].clear()
        return socket

    async def _ready(self, shard_id: int, count: int) -> None:
        mine = {guild: channel for guild, channel in self.guilds.items() if shard_of(guild, count) == shard_id}
        await self.dispatch(shard_id, "READY", {
            "v": 10, "user": BOT_USER, "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": f"session-{shard_id}-{next(self._ids)}", "resume_gateway_url": f"ws://127.0.0.1:{self.port}",
            "shard": [shard_id, count], "application": {"id": str(APP_ID), "flags": 0}})
        for guild, channel in mine.items():
            await self.dispatch(shard_id, "GUILD_CREATE", guild_payload(guild, channel))
        self._connected[shard_id].set()

    async def dispatch(self, shard_id: int, event: str, data: dict[str, Any]) -> None:
        shard = self.shards[shard_id]
        shard.sequence += 1
        await shard.socket.send_json({"op": DISPATCH, "t": event, "s": shard.sequence, "d": data})

    # Members

    def interaction(self, guild_id: int, user_id: int, question: str) -> dict[str, Any]:
        """INTERACTION_CREATE for `/ask question:…` by a member in a server's channel."""
        channel = self.guilds[guild_id]
        data = {"id": str(APP_ID + 100), "name": "ask", "type": 1,
                "options": [{"name": "question", "type": 3, "value": question}]}
        return {"id": str(next(self._ids)), "application_id": str(APP_ID), "type": 2, "data": data,
                "token": f"token-{next(self._ids)}", "version": 1, "guild_id": str(guild_id),
                "channel_id": str(channel), "channel": {"id": str(channel), "type": 0},
                "member": member(user_id, f"member{user_id}", [], MEMBER_PERMISSIONS),
                "app_permissions": str(MEMBER_PERMISSIONS | (1 << 14)), "locale": "en-US", "guild_locale": "en-US",
                "attachment_size_limit": 8 * 1024 * 1024, "entitlements": [],
                "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0}

    async def ask(self, guild_id: int, user_id: int, question: str, timeout: float = 60) -> Answer:
        """A member asks `/ask` in a server; waits for the bot's answer (its follow-up message)."""
        payload = self.interaction(guild_id, user_id, question)
        shard = shard_of(guild_id, self.shard_count)
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[payload["token"]] = answered
        started = time.monotonic()
        try:
            await self.connected(shard, timeout)
            await self.dispatch(shard, "INTERACTION_CREATE", payload)
            message: dict[str, Any] | None = await asyncio.wait_for(answered, timeout)
        except (TimeoutError, KeyError, ConnectionError):
            message = None
        finally:
            self._waiting.pop(payload["token"], None)
        deferred = self._deferred.pop(payload["token"], None)
        return Answer(message, time.monotonic() - started, shard, None if deferred is None else deferred - started)

    # The REST API

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text and request.content_type == "application/json" else text
        self.requests.append((request.method, path, body))
        answer = json.dumps(self._answer(request.method, path, body)).encode()
        return web.Response(body=answer, headers={"Content-Type": "application/json"})  # as Discord: no charset

    def _answer(self, method: str, path: str, body: Any) -> Any:
        if path == "users/@me":
            return BOT_USER
        if path == "oauth2/applications/@me":
            return {"id": str(APP_ID), "name": "Dossier", "description": "", "icon": None, "bot_public": False,
                    "bot_require_code_grant": False, "owner": BOT_USER, "verify_key": "0" * 64, "flags": 0}
        if path in ("gateway", "gateway/bot"):
            return {"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": self.shard_count,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                            "max_concurrency": 1}}
        if path.endswith("/commands"):
            return []
        if path.endswith("/callback"):
            if path.split("/")[2] in self._waiting:
                self._deferred[path.split("/")[2]] = time.monotonic()
            return {"interaction": {"id": path.split("/")[1], "type": 2}}
        if path.startswith("webhooks/") or "/messages" in path:
            message = self.message(body if isinstance(body, dict) else {})
            token = path.split("/")[2] if path.startswith("webhooks/") else ""
            if method == "POST" and token in self._waiting and not self._waiting[token].done():
                self._waiting[token].set_result(message)
            return message
        return {}

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(next(self._ids)), "channel_id": "0", "author": BOT_USER,
                "content": body.get("content") or "", "embeds": body.get("embeds", []),
                "components": body.get("components", []), "attachments": [], "mentions": [], "mention_roles": [],
                "mention_everyone": False, "pinned": False, "tts": False, "timestamp": TIMESTAMP,
                "edited_timestamp": None, "type": 0, "flags": body.get("flags", 0)}
