"""A bot process against the fake Discord of tests/bot/fake_discord.py, for the deployment tests and bench/load.py.

`python -m tests.shard_worker DISCORD_URL [--fake-embedder]` runs the real bot as `python -m bot` does, from the
settings in its environment (SHARD_COUNT and SHARD_IDS, CHROMA_HOST, DATABASE_URL, HEALTH_PORT, …): it logs in,
connects its shards over real websockets, answers, logs questions, follows builds and rollbacks of the index, and
stops on SIGTERM, writing what its question log still holds. Only Discord's address is changed: the REST API and the
gateway at DISCORD_URL. With --fake-embedder, the index was built with the fake embedder of the tests and is
searched with their plumbing scorer; otherwise the real model runs (ONNX), as in production.
"""

import asyncio
import sys

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.client import main, run
from bot.commands.serving import configure_logging
from bot.questionlog.vectors import VectorKeepingEmbedder
from bot.settings import Settings
from index.search.searcher import Searcher
from index.settings import read_settings
from tests.conftest import FakeEmbedder, on_topic_scorer


async def fake_embedder_bot(settings: Settings) -> None:
    assert settings.discord_token is not None
    searcher = Searcher.open(settings, VectorKeepingEmbedder(FakeEmbedder()), scorer=on_topic_scorer())
    await run(settings, settings.discord_token, searcher)


def serve(discord_url: str, fake_embedder: bool) -> None:
    discord.http.Route.BASE = f"{discord_url}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{discord_url.replace('http', 'ws', 1)}/gateway")
    configure_logging(verbose=False)
    settings = read_settings(Settings)
    assert settings.discord_token is not None
    asyncio.run(fake_embedder_bot(settings) if fake_embedder else main(settings, settings.discord_token))


if __name__ == "__main__":
    serve(sys.argv[1], "--fake-embedder" in sys.argv[2:])
