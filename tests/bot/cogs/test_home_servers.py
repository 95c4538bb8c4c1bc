"""Moderation belongs to the corpus's home servers: /dossier from any other server changes nothing.

The corpus is one for every server the bot is in, so a moderator of one server must not be able to change
what every other server is quoted. Real gateway payloads go through the real CommandTree, with the bot in two
servers; only HTTP is faked.
"""

import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.help import CHECK
from index.ingest.corpus import read_metadata
from tests.bot.cogs.test_sources import ARTICLE, EXISTING, Uploads, edits, snapshot
from tests.bot.harness import (
    ADMIN,
    APP_ID,
    ASKER,
    EPHEMERAL,
    GUILD_ID,
    MODERATOR,
    SECOND_GUILD_ID,
    SECOND_OWNER,
    FakeHTTP,
    Gateway,
    Request,
    assert_safe,
    fake_index_gateway,
    settings_for,
)
from tests.conftest import make_settings

SUBCOMMANDS = ["add", "remove", "reindex", "status", "sources", "gaps", "stats", "checks", "rollback", "forget"]
NOT_HERE = "/dossier is not available in this server."
MODERATION_OFF = "Moderation is off: MODERATOR_GUILD_IDS is not set"
PENDING = "005_pending.txt"


async def two_servers(tmp_path: Path, seeds: Path, homes: list[int]) -> Uploads:
    """The bot in GUILD_ID and SECOND_GUILD_ID, with MODERATOR_GUILD_IDS = `homes`, and a change waiting on disk.

    The waiting file means that a reindex which ran would change the live index.
    """
    gateway = await fake_index_gateway(tmp_path, seeds, moderator_guild_ids=homes)
    gateway.join(SECOND_GUILD_ID)
    (seeds / PENDING).write_text("Pending\n\nIran and the Taliban met again in Kabul this week, officials "
                                 "from both sides said on Monday.\n", encoding="utf-8")
    return Uploads(gateway)


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def named(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Uploads]:
    """MODERATOR_GUILD_IDS names the first server only."""
    uploads = await two_servers(tmp_path, seeds_copy, [GUILD_ID])
    yield uploads
    await uploads.gateway.close()


@pytest_asyncio.fixture(loop_scope="function")
async def unset(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Uploads]:
    """MODERATOR_GUILD_IDS is empty."""
    uploads = await two_servers(tmp_path, seeds_copy, [])
    yield uploads
    await uploads.gateway.close()


async def run(uploads: Uploads, sub: str, who: dict[str, Any], guild_id: int) -> list[Request]:
    """`/dossier sub` as `who` in `guild_id`: an upload for add, the removal of an existing source for remove, the
    asker to forget for forget."""
    if sub == "add":
        return await uploads.add("herat.txt", ARTICLE, who=who, guild_id=guild_id, replace=True, title="Fake")
    options = {"source": EXISTING} if sub == "remove" else {"user": ASKER} if sub == "forget" else {}
    return await uploads.gateway.command(f"dossier {sub}", who=who, guild_id=guild_id, **options)


def state(uploads: Uploads, seeds: Path) -> tuple[Any, ...]:
    """Everything a refused command must leave alone: the seeds folder, sources.toml, the live index."""
    searcher = uploads.gateway.bot.searcher
    return snapshot(seeds), read_metadata(seeds), searcher.index.pointer, searcher.sources()


def assert_refused(requests: list[Request], says: str) -> None:
    """One private reply saying `says`, and nothing else sent."""
    assert [r.kind for r in requests] == ["reply"]
    reply = requests[0].message
    assert reply["flags"] & EPHEMERAL and says in re.sub(r"\\(.)", r"\1", reply["content"])  # markdown escapes off
    assert_safe(requests)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
async def test_second_server_owner_is_refused(named: Uploads, seeds_copy: Path, sub: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """The owner of a server outside MODERATOR_GUILD_IDS cannot run /dossier; nothing changes, the refusal is logged."""
    before = state(named, seeds_copy)
    with caplog.at_level(logging.WARNING, logger="bot"):
        requests = await run(named, sub, SECOND_OWNER, SECOND_GUILD_ID)
    assert_refused(requests, NOT_HERE)
    assert state(named, seeds_copy) == before and not named.cdn.downloads
    assert any("owner" in r.getMessage() and str(SECOND_GUILD_ID) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
async def test_checked_server_side_whatever_the_command_registration(named: Uploads, seeds_copy: Path,
                                                                      sub: str) -> None:
    """Even a /dossier interaction that names the home server's command is refused when it comes from another."""
    gateway = named.gateway
    feed = gateway._interaction

    def forged(kind: int, data: dict[str, Any], who: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        payload = feed(kind, data, who, **kwargs)
        payload["data"]["guild_id"] = str(GUILD_ID)  # as if the home server's /dossier were invoked elsewhere
        return payload

    gateway._interaction = forged  # type: ignore[method-assign]
    before = state(named, seeds_copy)
    requests = await run(named, sub, SECOND_OWNER, SECOND_GUILD_ID)
    assert_refused(requests, "only its home servers (MODERATOR_GUILD_IDS) keep it")
    assert state(named, seeds_copy) == before and not named.cdn.downloads


@pytest.mark.parametrize("guild_id", [GUILD_ID, SECOND_GUILD_ID])
@pytest.mark.parametrize("sub", SUBCOMMANDS)
async def test_unset_in_two_servers_fails_closed(unset: Uploads, seeds_copy: Path, sub: str, guild_id: int) -> None:
    """With MODERATOR_GUILD_IDS empty and the bot in two servers, every server is refused, saying how to set it."""
    who = ADMIN if guild_id == GUILD_ID else SECOND_OWNER
    before = state(unset, seeds_copy)
    requests = await run(unset, sub, who, guild_id)
    assert_refused(requests, MODERATION_OFF)
    assert f"MODERATOR\\_GUILD\\_IDS={guild_id} in its .env" in requests[0].message["content"]
    assert state(unset, seeds_copy) == before and not unset.cdn.downloads


async def test_autocomplete_refused_outside_the_home_servers(named: Uploads, unset: Uploads) -> None:
    """/dossier remove suggests no source ids to another server's owner, nor to anyone once moderation is off."""
    assert await named.complete_remove("regime", who=SECOND_OWNER, guild_id=SECOND_GUILD_ID) == []
    assert await unset.complete_remove("regime", who=SECOND_OWNER, guild_id=SECOND_GUILD_ID) == []
    assert await unset.complete_remove("regime", who=ADMIN, guild_id=GUILD_ID) == []
    assert len(await named.complete_remove("regime", who=ADMIN, guild_id=GUILD_ID)) == 2


async def test_home_server_moderators_still_work(named: Uploads, seeds_copy: Path) -> None:
    """In the home server, moderators see the status, upload, and reindex as before, while the bot is in two."""
    status = await named.gateway.command("dossier status", who=MODERATOR)
    assert status[0].kind == "reply" and status[0].message["embeds"][0]["title"] == "Dossier's index"
    requests = await named.add("herat.txt", ARTICLE, title="Herat crossing reopens")
    assert edits(requests)[-1].startswith("Seeds folder: added") and "2 added" in edits(requests)[-1]
    assert (seeds_copy / "herat.txt").read_bytes() == ARTICLE
    assert {"herat.txt", PENDING} <= {source.id for source, _ in named.gateway.bot.searcher.sources()}


@pytest.mark.parametrize("sub", SUBCOMMANDS)
async def test_unset_in_one_server_explains_and_does_nothing(tmp_path: Path, seeds_copy: Path, sub: str) -> None:
    """With MODERATOR_GUILD_IDS empty, even in the only server the bot is in, every /dossier (gaps and stats
    included) says how to set it and changes nothing: the home is never guessed from the servers the bot is in."""
    uploads = Uploads(await fake_index_gateway(tmp_path, seeds_copy, moderator_guild_ids=[]))
    gateway = uploads.gateway
    try:
        await gateway.command("ask", question="What is the capital of Peru?")
        before = state(uploads, seeds_copy)
        requests = await run(uploads, sub, ADMIN, GUILD_ID)
        after = state(uploads, seeds_copy)
        logged = gateway.bot.questions
        logged.flush()
    finally:
        await gateway.close()
    assert_refused(requests, MODERATION_OFF)
    assert f"MODERATOR\\_GUILD\\_IDS={GUILD_ID} in its .env" in requests[0].message["content"]
    assert after == before and not uploads.cdn.downloads
    with sqlite3.connect(gateway.bot.settings.database_path) as connection:
        assert connection.execute("SELECT count(*), count(question) FROM questions").fetchone() == (1, 0)


async def test_start_up_warns_when_moderation_is_off(unset: Uploads, caplog: pytest.LogCaptureFixture) -> None:
    """On connecting without MODERATOR_GUILD_IDS, the log says /dossier is refused everywhere and no text is kept."""
    with caplog.at_level(logging.WARNING, logger="bot"):
        await unset.gateway.bot.on_ready()
    assert "MODERATOR_GUILD_IDS is not set: /dossier is refused in every server, and no question's text" in (
        caplog.text)


class _NoSearcher:
    """Syncing needs no index."""


GLOBAL = sorted(["ask", "compare", "help", "privacy", CHECK])  # every command but /dossier


def syncs(http: FakeHTTP) -> dict[str, list[str]]:
    """The command names each sync (PUT …/commands) registered, by URL: global or a server's."""
    return {r.url.split("/applications/")[1]: sorted(c["name"] for c in r.body)
            for r in http.requests if r.method == "PUT" and r.url.endswith("/commands")}


async def test_dossier_is_synced_to_the_home_servers_only(tmp_path: Path) -> None:
    """A global sync registers /ask everywhere and /dossier only in each home server."""
    settings = settings_for(make_settings(tmp_path), sync_commands_globally=True,
                            moderator_guild_ids=[GUILD_ID, SECOND_GUILD_ID])
    gateway = await Gateway.connect(settings, _NoSearcher())  # type: ignore[arg-type]
    await gateway.close()
    assert syncs(gateway.http) == {f"{APP_ID}/commands": GLOBAL,
                                   f"{APP_ID}/guilds/{GUILD_ID}/commands": ["dossier"],
                                   f"{APP_ID}/guilds/{SECOND_GUILD_ID}/commands": ["dossier"]}


async def test_a_dev_guild_that_is_a_home_server_gets_both(tmp_path: Path) -> None:
    """A dev guild gets /ask copied to it, and /dossier too when it is a home server; no server is synced twice."""
    settings = settings_for(make_settings(tmp_path), sync_commands_globally=True, dev_guild_id=GUILD_ID,
                            moderator_guild_ids=[GUILD_ID])
    gateway = await Gateway.connect(settings, _NoSearcher())  # type: ignore[arg-type]
    await gateway.close()
    assert syncs(gateway.http) == {f"{APP_ID}/guilds/{GUILD_ID}/commands": sorted([*GLOBAL, "dossier"]),
                                   f"{APP_ID}/commands": GLOBAL}


async def test_a_home_server_the_bot_is_not_in_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """When Discord refuses the sync to a home server (the bot is not in it), start-up logs why and goes on."""
    settings = settings_for(make_settings(tmp_path), sync_commands_globally=True,
                            moderator_guild_ids=[SECOND_GUILD_ID, GUILD_ID])
    http = FakeHTTP(refused={f"/guilds/{SECOND_GUILD_ID}/commands"})
    with caplog.at_level(logging.INFO, logger="bot"):
        gateway = await Gateway.connect(settings, _NoSearcher(), http)  # type: ignore[arg-type]
    await gateway.close()
    assert f"could not sync /dossier to the home server {SECOND_GUILD_ID}" in caplog.text
    assert f"commands to the home server {GUILD_ID}" in caplog.text
    assert syncs(http)[f"{APP_ID}/guilds/{GUILD_ID}/commands"] == ["dossier"]


async def test_unset_in_a_dm_says_where_to_run_it(unset: Uploads, seeds_copy: Path) -> None:
    """/dossier in a DM with MODERATOR_GUILD_IDS unset says moderation is off and to run it in the server that
    should keep the corpus, never "MODERATOR_GUILD_IDS=None", and changes nothing."""
    before = state(unset, seeds_copy)
    requests = await unset.gateway.command("dossier status", who=ADMIN, guild_id=None)
    assert_refused(requests, MODERATION_OFF)
    said = re.sub(r"\\(.)", r"\1", requests[0].message["content"])
    assert "None" not in said and "run /dossier in the server that should keep the corpus" in said
    assert state(unset, seeds_copy) == before
