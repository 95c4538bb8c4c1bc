"""Fixtures of the Discord tests: the bot through the harness (tests/bot/harness.py), on one of two indexes."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.harness import Gateway, fake_index_gateway, settings_for
from tests.bot.log.databases import LogBackend


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(tmp_path: Path, seeds_copy: Path, log_backend: LogBackend) -> AsyncIterator[Gateway]:
    """The bot over a fake-embedder index of a copy of the seeds, with its question log on each database
    (`gateway.backend`)."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, **log_backend.settings)
    gateway.backend = log_backend  # type: ignore[attr-defined]
    yield gateway
    await gateway.close()


@pytest_asyncio.fixture(loop_scope="function")
async def seeds_gateway(seeds_settings: IndexSettings, searcher: Searcher) -> AsyncIterator[Gateway]:
    """The bot over the session's seed index, with the real model."""
    gateway = await Gateway.connect(settings_for(seeds_settings), searcher)
    yield gateway
    await gateway.close()
