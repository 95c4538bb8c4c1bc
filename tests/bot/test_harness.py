"""The client itself, through the harness (tests/bot/harness.py): no pings allowed, and command sync only when
asked for."""

from pathlib import Path

import pytest

from bot.client import Dossier, ShardedDossier
from bot.help import CHECK
from bot.settings import Settings
from tests.bot.harness import APP_ID, GUILD_ID, NO_PINGS, Gateway


@pytest.fixture
def dev_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, chroma_path=tmp_path / "chroma", database_path=tmp_path / "questions.sqlite3",  # type: ignore[call-arg]
                    dev_guild_id=GUILD_ID)


class _NoSearcher:
    """setup_hook never searches; the client tests need no index."""


async def test_client_sends_no_pings(dev_settings: Settings) -> None:
    """The client is built with AllowedMentions.none() and without the privileged message-content intent."""
    bot = Dossier(dev_settings, _NoSearcher())  # type: ignore[arg-type]
    assert bot.allowed_mentions is not None and bot.allowed_mentions.to_dict() == NO_PINGS
    assert bot.intents.message_content is False


async def test_client_keeps_no_caches_it_never_reads(dev_settings: Settings) -> None:
    """The client asks Discord only for servers and messages, and keeps no message or member cache: a bot in many
    servers does not grow with their traffic."""
    bot = Dossier(dev_settings, _NoSearcher())  # type: ignore[arg-type]
    assert {name for name, on in bot.intents if on} == {"guilds", "guild_messages", "dm_messages"}
    assert bot._connection.max_messages is None and bot._connection.member_cache_flags.value == 0


async def test_sync_only_to_the_dev_guild(dev_settings: Settings) -> None:
    """With DEV_GUILD_ID, start-up copies the commands to that guild and syncs there, and nowhere else."""
    gateway = await Gateway.connect(dev_settings, _NoSearcher())  # type: ignore[arg-type]
    syncs = [r for r in gateway.http.requests if r.url.endswith("/commands")]
    assert [(r.method, f"/guilds/{GUILD_ID}/commands" in r.url) for r in syncs] == [("PUT", True)]
    assert sorted((c["type"], c["name"]) for c in syncs[0].body) == [
        (1, "ask"), (1, "compare"), (1, "dossier"), (1, "help"), (1, "privacy"), (3, CHECK)]
    await gateway.bot.on_ready()
    assert [r for r in gateway.http.requests if r.url.endswith("/commands")] == syncs
    await gateway.close()


async def test_only_the_process_with_shard_0_syncs(tmp_path: Path) -> None:
    """With SHARD_COUNT and SHARD_IDS the bot is an AutoShardedBot on those shards; asked to sync at start-up, the
    process with shard 0 syncs and the one with shard 1 does not, so processes starting together sync once."""
    synced = {}
    for shards in ([0], [1]):
        settings = Settings(_env_file=None, chroma_path=tmp_path / "chroma",  # type: ignore[call-arg]
                            database_path=tmp_path / "questions.sqlite3", sync_commands_globally=True,
                            moderator_guild_ids=[GUILD_ID], shard_count=2, shard_ids=shards)
        gateway = await Gateway.connect(settings, _NoSearcher())  # type: ignore[arg-type]
        assert isinstance(gateway.bot, ShardedDossier)
        assert (gateway.bot.shard_count, gateway.bot.shard_ids) == (2, shards)
        synced[shards[0]] = [r.url.split("/applications/")[1] for r in gateway.http.requests
                             if r.url.endswith("/commands")]
        await gateway.close()
    assert synced == {0: [f"{APP_ID}/commands", f"{APP_ID}/guilds/{GUILD_ID}/commands"], 1: []}


async def test_no_sync_unless_asked(tmp_path: Path) -> None:
    """Without DEV_GUILD_ID or SYNC_COMMANDS_GLOBALLY, start-up registers no commands."""
    settings = Settings(_env_file=None, chroma_path=tmp_path / "chroma",  # type: ignore[call-arg]
                        database_path=tmp_path / "questions.sqlite3")
    gateway = await Gateway.connect(settings, _NoSearcher())  # type: ignore[arg-type]
    assert not [r for r in gateway.http.requests if r.url.endswith("/commands")]
    await gateway.close()
