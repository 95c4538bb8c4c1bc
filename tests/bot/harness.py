"""A Discord server in a box: gateway-shaped events go through the bot's real state, CommandTree, views and
event handlers; only the HTTP layer (the aiohttp session under discord.py) is faked, and it records every request.
The Discord tests drive the bot through it (tests/bot/test_harness.py checks the client itself)."""

import asyncio
import functools
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.client import Dossier, create_bot
from bot.help import CHECK
from bot.payload import (
    AUTHOR_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    EMBEDS_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
)
from bot.questionlog.questionlog import open_question_log
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.settings import Settings
from index.builds.pipeline import build
from index.search.searcher import Searcher
from index.store.chroma import Store
from tests.conftest import FakeEmbedder, make_settings, on_topic_scorer

APP_ID = 900000000000000001
BOT_ID = 900000000000000002
GUILD_ID = 910000000000000001
SECOND_GUILD_ID = 910000000000000002
CHANNEL_ID = 920000000000000001
SECOND_CHANNEL_ID = 920000000000000003
THREAD_ID = 920000000000000002
DM_CHANNEL_ID = 920000000000000004
MEMBER_ID = 930000000000000001
MODERATOR_ID = 930000000000000002
ADMIN_ID = 930000000000000003
SECOND_OWNER_ID = 930000000000000004
MOD_ROLE_ID = 940000000000000001
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send messages, use application commands
EPHEMERAL = 1 << 6
NO_PINGS = discord.AllowedMentions.none().to_dict()
TIMESTAMP = "2025-01-01T00:00:00+00:00"
TASKS = ("CommandTree-invoker", "discord-ui-view-dispatch-", "discord.py: on_message", "discord.py: on_raw")

BOT_USER = {"id": str(BOT_ID), "username": "Dossier", "discriminator": "0", "global_name": "Dossier",
            "avatar": None, "bot": True}


def settings_for(index: Any, **overrides: Any) -> Settings:
    """Bot settings for the index at `index` (any settings object with seeds_dir and chroma_path), with a
    question log of their own beside it, and the first server (GUILD_ID) as the home server."""
    database = index.chroma_path.parent / f"questions-{uuid.uuid4().hex[:8]}.sqlite3"
    values: dict[str, Any] = {"seeds_dir": index.seeds_dir, "chroma_path": index.chroma_path,
                              "embedding_model": index.embedding_model, "ask_cooldown_seconds": 0,
                              "moderator_role_ids": [MOD_ROLE_ID], "moderator_guild_ids": [GUILD_ID],
                              "reindex_progress_seconds": 0.05, "database_path": database}
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


@dataclass
class Request:
    """One HTTP request the bot made, with its JSON body."""

    method: str
    url: str
    body: Any
    response: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> dict[str, Any]:
        """The message the request sends: an interaction callback's `data`, else the body itself."""
        if self.url.endswith("/callback"):
            return dict(self.body.get("data") or {})
        return dict(self.body or {})

    @property
    def kind(self) -> str:
        """`defer`, `reply`, `update` or `deferred-update` for callbacks; `followup`, `edit`, `send` otherwise."""
        if self.url.endswith("/callback"):
            return {4: "reply", 5: "defer", 6: "deferred-update", 7: "update"}[self.body["type"]]
        if "/webhooks/" in self.url:
            return "followup" if self.method == "POST" else "edit"
        return "send" if self.method == "POST" else "edit"


class _Response:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.status = status
        self.reason = "OK" if status == 200 else "Forbidden"
        self.headers = {"content-type": "application/json"}
        self._text = json.dumps(body)

    async def text(self, encoding: str | None = None) -> str:
        return self._text

    async def __aenter__(self) -> "_Response":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class FakeHTTP:
    """Stands in for discord.py's aiohttp session: records each request and answers as Discord would."""

    requests: list[Request] = field(default_factory=list)
    originals: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # URLs ending so get 403 Missing Access, as Discord answers
    closed: bool = False
    _ids: Any = field(default_factory=lambda: itertools.count(990000000000000001))

    def request(self, method: str, url: str, **kwargs: Any) -> _Response:
        data = kwargs.get("data")
        body = json.loads(data) if isinstance(data, str) else None
        request = Request(method, url, body)
        self.requests.append(request)
        if url.endswith(tuple(self.refused)):
            request.response = {"message": "Missing Access", "code": 50001}
            return _Response(request.response, 403)
        request.response = self._answer(method, url, body)
        return _Response(request.response)

    async def close(self) -> None:
        self.closed = True

    def _answer(self, method: str, url: str, body: Any) -> Any:
        if url.endswith("/callback"):
            return {"interaction": {"id": "1", "type": 2}}
        if url.endswith("/commands"):
            return []
        if "/messages" in url or "/webhooks/" in url:
            channel = url.split("/channels/")[1].split("/")[0] if "/channels/" in url else str(CHANNEL_ID)
            message_id = None
            if method == "PATCH" and url.endswith("/messages/@original"):
                message_id = self.originals.get(url.split("/")[-3])
            elif method == "PATCH":
                message_id = url.split("/")[-1]
            return self.message(channel, body or {}, message_id)
        return {}

    def message(self, channel_id: str, body: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
        return {"id": message_id or str(next(self._ids)), "channel_id": channel_id, "guild_id": str(GUILD_ID),
                "author": BOT_USER, "content": body.get("content") or "", "embeds": body.get("embeds", []),
                "components": body.get("components", []), "attachments": [], "mentions": [], "mention_roles": [],
                "mention_everyone": False, "pinned": False, "tts": False, "timestamp": TIMESTAMP,
                "edited_timestamp": None, "type": 0, "flags": body.get("flags", 0)}


def user(user_id: int, name: str) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name.title(), "avatar": None}


def member(user_id: int, name: str, roles: list[int], permissions: int) -> dict[str, Any]:
    return {"user": user(user_id, name), "roles": [str(r) for r in roles], "joined_at": TIMESTAMP, "deaf": False,
            "mute": False, "flags": 0, "permissions": str(permissions)}


def guild_create(guild_id: int = GUILD_ID) -> dict[str, Any]:
    """GUILD_CREATE for a server with a moderator role, a text channel and a thread in it.

    The first server (GUILD_ID) is owned by the admin; a second one (SECOND_GUILD_ID) by SECOND_OWNER.
    """
    if guild_id != GUILD_ID:
        return second_guild_create(guild_id)
    role = {"color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None}
    channel = {"id": str(CHANNEL_ID), "type": 0, "name": "general", "position": 0, "permission_overwrites": [],
               "guild_id": str(GUILD_ID), "nsfw": False, "topic": None, "last_message_id": None}
    thread = {"id": str(THREAD_ID), "type": 11, "name": "Iran and the Taliban", "parent_id": str(CHANNEL_ID),
              "guild_id": str(GUILD_ID), "owner_id": str(MEMBER_ID), "message_count": 1, "member_count": 1,
              "rate_limit_per_user": 0, "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                                            "archive_timestamp": TIMESTAMP, "locked": False}}
    return {"id": str(GUILD_ID), "name": "Test server", "icon": None, "owner_id": str(ADMIN_ID),
            "unavailable": False, "member_count": 4, "large": False, "features": [], "emojis": [], "stickers": [],
            "roles": [{**role, "id": str(GUILD_ID), "name": "@everyone", "position": 0,
                       "permissions": str(MEMBER_PERMISSIONS)},
                      {**role, "id": str(MOD_ROLE_ID), "name": "Moderators", "position": 1,
                       "permissions": str(MEMBER_PERMISSIONS)}],
            "channels": [channel], "threads": [thread], "members": [], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": []}


def second_guild_create(guild_id: int) -> dict[str, Any]:
    """GUILD_CREATE for another server the bot joined: one text channel, owned by SECOND_OWNER."""
    channel = {"id": str(SECOND_CHANNEL_ID), "type": 0, "name": "general", "position": 0,
               "permission_overwrites": [], "guild_id": str(guild_id), "nsfw": False, "topic": None,
               "last_message_id": None}
    everyone = {"id": str(guild_id), "name": "@everyone", "position": 0, "permissions": str(MEMBER_PERMISSIONS),
                "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None}
    return {"id": str(guild_id), "name": "Another server", "icon": None, "owner_id": str(SECOND_OWNER_ID),
            "unavailable": False, "member_count": 2, "large": False, "features": [], "emojis": [], "stickers": [],
            "roles": [everyone], "channels": [channel], "threads": [], "members": [], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": []}


ASKER = member(MEMBER_ID, "asker", [], MEMBER_PERMISSIONS)
OTHER_MEMBER = member(MEMBER_ID + 10, "bystander", [], MEMBER_PERMISSIONS)
MODERATOR = member(MODERATOR_ID, "moderator", [MOD_ROLE_ID], MEMBER_PERMISSIONS)
ADMIN = member(ADMIN_ID, "admin", [], MEMBER_PERMISSIONS | MANAGE_GUILD)
SECOND_OWNER = member(SECOND_OWNER_ID, "owner", [], MEMBER_PERMISSIONS | ADMINISTRATOR | MANAGE_GUILD)


class Gateway:
    """The bot connected to a fake Discord: `command`, `press` and `say` feed it events as the gateway would."""

    def __init__(self, bot: Dossier, http: FakeHTTP) -> None:
        self.bot = bot
        self.http = http
        self._ids = itertools.count(980000000000000001)
        self.said = 0  # the id of the last message `say` posted
        self.fed: set[int] = set()  # the ids of the interactions and messages fed to the bot

    @classmethod
    async def connect(cls, settings: Settings, searcher: Searcher, http: FakeHTTP | None = None) -> "Gateway":
        bot = create_bot(settings, searcher, open_question_log(settings))
        http = http or FakeHTTP()
        await bot._async_setup_hook()
        bot.http._HTTPClient__session = http  # type: ignore[attr-defined]
        bot.http._global_over = asyncio.Event()
        bot.http._global_over.set()
        bot._connection.user = discord.ClientUser(state=bot._connection, data=BOT_USER)  # type: ignore[arg-type]
        bot._connection.application_id = APP_ID
        await bot.setup_hook()
        bot._connection.parse_guild_create(guild_create())  # type: ignore[arg-type]
        return cls(bot, http)

    async def close(self) -> None:
        await self.bot.close()

    def join(self, guild_id: int = SECOND_GUILD_ID) -> None:
        """The bot joins another server (GUILD_CREATE)."""
        self.bot._connection.parse_guild_create(guild_create(guild_id))  # type: ignore[arg-type]

    def _interaction(self, kind: int, data: dict[str, Any], who: dict[str, Any], channel_id: int | None = None,
                     guild_id: int | None = GUILD_ID, **extra: Any) -> dict[str, Any]:
        """INTERACTION_CREATE in `guild_id`, or in the member's DM with the bot when it is None. As Discord does, a
        command registered for that server (not a global one) carries the server's id in its data."""
        if guild_id is None:
            dm = {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [who["user"]]}
            return {"id": str(next(self._ids)), "application_id": str(APP_ID), "type": kind, "data": data,
                    "token": f"token-{next(self._ids)}", "version": 1, "channel_id": str(DM_CHANNEL_ID),
                    "channel": dm, "user": who["user"], "app_permissions": str(MEMBER_PERMISSIONS), "locale": "en-US",
                    "attachment_size_limit": 8 * 1024 * 1024, "entitlements": [],
                    "authorizing_integration_owners": {"0": str(GUILD_ID)}, "context": 1, **extra}
        if channel_id is None:
            channel_id = CHANNEL_ID if guild_id == GUILD_ID else SECOND_CHANNEL_ID
        if "name" in data and self.bot.tree.get_command(data["name"], guild=discord.Object(guild_id)):
            data = {**data, "guild_id": str(guild_id)}
        return {"id": str(next(self._ids)), "application_id": str(APP_ID), "type": kind, "data": data,
                "token": f"token-{next(self._ids)}", "version": 1, "guild_id": str(guild_id),
                "channel_id": str(channel_id), "channel": {"id": str(channel_id), "type": 0},
                "member": who, "app_permissions": str(MEMBER_PERMISSIONS | (1 << 14)), "locale": "en-US",
                "guild_locale": "en-US", "attachment_size_limit": 8 * 1024 * 1024, "entitlements": [],
                "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0, **extra}

    async def command(self, name: str, who: dict[str, Any] = ASKER, guild_id: int | None = GUILD_ID,
                      **options: Any) -> list[Request]:
        """Runs `/name` (or `/group sub` when name has a space) with options in a server (None: in a DM); returns
        the requests. A member payload as an option's value is a user option, resolved as Discord resolves it."""
        parts = name.split()
        opts = [{"name": k, "type": option_type(v), "value": v["user"]["id"] if isinstance(v, dict) else v}
                for k, v in options.items()]
        if len(parts) == 2:
            opts = [{"name": parts[1], "type": 1, "options": opts}]
        data: dict[str, Any] = {"id": str(APP_ID + 100), "name": parts[0], "type": 1, "options": opts}
        picked = [v for v in options.values() if isinstance(v, dict)]
        if picked:
            data["resolved"] = {"users": {v["user"]["id"]: v["user"] for v in picked},
                                "members": {v["user"]["id"]: {k: x for k, x in v.items() if k != "user"}
                                            for v in picked}}
        payload = self._interaction(2, data, who, guild_id=guild_id)
        return await self.feed(self.bot._connection.parse_interaction_create, payload)

    async def press(self, message: Request, label: str, who: dict[str, Any] = ASKER) -> list[Request]:
        """Presses the button labelled `label` on the message that the request `message` sent or edited."""
        sent = message.response
        buttons = [c for row in sent["components"] for c in row["components"] if c.get("label") == label]
        assert buttons, f"no button {label!r} on the message"
        data = {"custom_id": buttons[0]["custom_id"], "component_type": 2}
        payload = self._interaction(3, data, who, message=sent)
        self.http.originals[payload["token"]] = sent["id"]
        return await self.feed(self.bot._connection.parse_interaction_create, payload)

    def message(self, content: str, who: dict[str, Any] = ASKER, channel_id: int = THREAD_ID,
                guild_id: int = GUILD_ID, mentions: list[dict[str, Any]] | None = None,
                **extra: Any) -> dict[str, Any]:
        """A message as the gateway shapes it (MESSAGE_CREATE, or a resolved message of an interaction), with a new
        id; `extra` overrides fields such as attachments and embeds."""
        author = who["user"]
        return {"id": str(next(self._ids)), "channel_id": str(channel_id), "guild_id": str(guild_id),
                "author": author, "member": {k: v for k, v in who.items() if k != "user"}, "content": content,
                "mentions": mentions if mentions is not None else [], "mention_roles": [],
                "mention_everyone": "@everyone" in content, "timestamp": TIMESTAMP, "edited_timestamp": None,
                "tts": False, "pinned": False, "type": 0, "embeds": [], "attachments": [], "components": [],
                "flags": 0, **extra}

    async def say(self, content: str, who: dict[str, Any] = ASKER, channel_id: int = THREAD_ID,
                  mentions: list[dict[str, Any]] | None = None, guild_id: int = GUILD_ID) -> list[Request]:
        """Posts a message in a channel the bot can see (by default the thread); `self.said` is its id."""
        payload = self.message(content, who, channel_id, guild_id, mentions)
        self.said = int(payload["id"])
        return await self.feed(self.bot._connection.parse_message_create, payload)

    async def check(self, message: dict[str, Any], who: dict[str, Any] = ASKER) -> list[Request]:
        """Runs the message command "Check in Dossier" on `message` (see `message`), where it was posted."""
        data = {"id": str(APP_ID + 101), "name": CHECK, "type": 3, "target_id": message["id"],
                "resolved": {"messages": {message["id"]: message}}}
        guild_id = int(message["guild_id"]) if "guild_id" in message else None  # None: a DM with the bot
        payload = self._interaction(2, data, who, channel_id=int(message["channel_id"]), guild_id=guild_id)
        return await self.feed(self.bot._connection.parse_interaction_create, payload)

    async def delete(self, *message_ids: int, channel_id: int = THREAD_ID) -> list[Request]:
        """Messages deleted in the home server: MESSAGE_DELETE for one, MESSAGE_DELETE_BULK for several."""
        where = {"channel_id": str(channel_id), "guild_id": str(GUILD_ID)}
        if len(message_ids) == 1:
            return await self.feed(self.bot._connection.parse_message_delete, {"id": str(message_ids[0]), **where})
        return await self.feed(self.bot._connection.parse_message_delete_bulk,
                               {"ids": [str(i) for i in message_ids], **where})

    async def feed(self, parse: Any, payload: dict[str, Any]) -> list[Request]:
        """Feeds one gateway event and waits for what it set off; returns the requests made meanwhile."""
        before = len(self.http.requests)
        running = set(asyncio.all_tasks())
        if "id" in payload:
            self.fed.add(int(payload["id"]))
        parse(payload)
        await settle(running)
        return self.http.requests[before:]


def option_type(value: Any) -> int:
    """The application command option type Discord sends for a value: boolean, integer, string or user."""
    if isinstance(value, dict):
        return 6
    if isinstance(value, bool):
        return 5
    return 4 if isinstance(value, int) else 3


async def settle(running: set[asyncio.Task[Any]]) -> None:
    """Waits for the tasks discord.py started for an event (those not in `running` before it) to finish."""
    while True:
        await asyncio.sleep(0)
        started = [t for t in asyncio.all_tasks() - running if not t.done() and t.get_name().startswith(TASKS)]
        if not started:
            return
        await asyncio.wait(started)


@dataclass
class BuildGate:
    """Holds the next build process inside `encode` until released (see tests.conftest.wait_at_gate)."""

    folder: Path

    async def held(self) -> int:
        """Waits until a build process waits at the gate; returns its process id."""
        held = self.folder / "held"
        for _ in range(6000):
            if held.exists():
                return int(held.read_text())
            await asyncio.sleep(0.01)
        raise AssertionError("no build process reached the gate")

    def release(self) -> None:
        (self.folder / "release").touch()


def hold_builds(monkeypatch: pytest.MonkeyPatch, embedder: Any, folder: Path) -> BuildGate:
    """Makes the build processes that `embedder`'s recipe starts wait at a gate in `folder`."""
    folder.mkdir()
    monkeypatch.setattr(embedder, "recipe", lambda: functools.partial(FakeEmbedder, embedder.name,
                                                                      embedder.dimension, folder))
    return BuildGate(folder)


def bot_mention() -> dict[str, Any]:
    """The `mentions` entry for the bot in a MESSAGE_CREATE."""
    return {**BOT_USER, "member": {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False, "flags": 0}}


def assert_within_limits(message: dict[str, Any]) -> None:
    """Every Discord message limit, counted independently of bot.payload."""
    assert len(message.get("content") or "") <= CONTENT_LIMIT
    embeds = message.get("embeds") or []
    assert len(embeds) <= EMBEDS_LIMIT
    total = 0
    for embed in embeds:
        title, description = embed.get("title", ""), embed.get("description", "")
        footer, author = embed.get("footer", {}).get("text", ""), embed.get("author", {}).get("name", "")
        fields = embed.get("fields", [])
        assert len(title) <= TITLE_LIMIT and len(description) <= DESCRIPTION_LIMIT
        assert len(footer) <= FOOTER_LIMIT and len(author) <= AUTHOR_LIMIT and len(fields) <= FIELDS_LIMIT
        for f in fields:
            assert len(f["name"]) <= FIELD_NAME_LIMIT and len(f["value"]) <= FIELD_VALUE_LIMIT
        total += len(title) + len(description) + len(footer) + len(author)
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
    assert total <= EMBEDS_TOTAL_LIMIT


def assert_safe(requests: list[Request]) -> None:
    """No message the bot sent can ping anyone, and none is over a limit."""
    for request in requests:
        message = request.message
        if request.kind in ("defer", "deferred-update") or not message:
            continue
        assert message.get("allowed_mentions") == NO_PINGS, request
        assert_within_limits(message)


async def fake_index_gateway(tmp_path: Path, seeds: Path, **overrides: Any) -> Gateway:
    """The bot over an index of `seeds` built with the fast fake embedder (never for quality), which remembers
    question vectors for the log as the bot's embedder does."""
    index = make_settings(tmp_path, seeds)
    embedder = FakeEmbedder()
    build(index.seeds_dir, Store.open(index), embedder)
    searcher = Searcher.open(index, VectorKeepingEmbedder(embedder), scorer=on_topic_scorer())
    return await Gateway.connect(settings_for(index, **overrides), searcher)
