"""What the bot logs: with -v, debug details of its own, but never an interaction's token or webhook url."""

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands.serving import configure_logging
from tests.bot.harness import BOT_ID, MODERATOR, bot_mention, fake_index_gateway

TOKEN_IN_URL = re.compile(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)")


@pytest.fixture
def restore_levels() -> Iterator[None]:
    """configure_logging changes global logger levels: put them back after the test."""
    names = ["", "discord", "bot", "httpx"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_verbose_logs_carry_no_interaction_token(tmp_path: Path, seeds_copy: Path, restore_levels: None,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """With -v the bot's own debug lines are logged, while discord.py's request lines, with their tokens, are not."""
    configure_logging(verbose=True)
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    try:
        requests = await gateway.command("ask", question="What ties Iran to the Taliban?")
        requests += await gateway.command("dossier status", who=MODERATOR)
        requests += await gateway.say(f"<@{BOT_ID}> Who funds the Taliban?", mentions=[bot_mention()])
    finally:
        await gateway.close()
    tokens = {match.group(1) for r in requests if (match := TOKEN_IN_URL.search(r.url))}
    assert len(tokens) == 2  # the two interactions' tokens, as they appear in the urls the bot called
    assert any(r.levelno == logging.DEBUG and r.name.startswith("bot.") for r in caplog.records)
    assert not [token for token in tokens if token in caplog.text]
    assert "/webhooks/" not in caplog.text and "/interactions/" not in caplog.text
    assert logging.getLogger("discord").getEffectiveLevel() == logging.INFO


def test_requests_to_a_chroma_server_are_not_logged_one_by_one(restore_levels: None,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """httpx, which Chroma's HttpClient uses, logs each request at INFO; the bot, which checks the live pointer every
    few seconds, logs none of them, with -v or without, and still logs httpx's warnings."""
    for verbose in (False, True):
        configure_logging(verbose=verbose)
        logging.getLogger("httpx").info('HTTP Request: GET http://127.0.0.1:8000/api/v2/heartbeat "HTTP/1.1 200 OK"')
        logging.getLogger("httpx").warning("connection pool is full")
    assert "HTTP Request" not in caplog.text and caplog.text.count("connection pool is full") == 2
