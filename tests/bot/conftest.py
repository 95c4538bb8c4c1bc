"""Fixtures of the bot's tests: the question log on each database, and the bot through the harness
(tests/bot/harness.py) on one of two indexes."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.harness import Gateway, fake_index_gateway, settings_for
from tests.bot.questionlog.databases import NO_POSTGRES, LogBackend


@pytest.fixture(params=["sqlite", "postgresql"])
def log_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogBackend]:
    """The question log's database for one test: a SQLite file, or a fresh PostgreSQL database (skipped, saying
    why, where PostgreSQL is not installed)."""
    if request.param == "sqlite":
        yield LogBackend("sqlite", tmp_path)
        return
    cluster = request.getfixturevalue("postgres")
    if cluster is None:
        pytest.skip(NO_POSTGRES)
    backend = LogBackend("postgresql", tmp_path, cluster, cluster.create_database())
    yield backend
    backend.drop()


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
