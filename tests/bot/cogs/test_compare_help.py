"""/compare and /help through the real CommandTree; /compare over the real seeds index and model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.help import CHECK
from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.cogs.test_ask import only, unquote
from tests.bot.harness import EPHEMERAL, Gateway, assert_safe, fake_index_gateway, settings_for
from tests.conftest import ROOT

TOPIC = "Russian weapons for the Taliban"  # three sources speak of Russia, two never mention it


@pytest.mark.slow
async def test_compare_shows_each_source_and_names_the_silent_ones(seeds_gateway: Gateway, searcher: Searcher) -> None:
    """/compare answers with one card per source that addresses the topic or comes near it, and names every other
    source as saying nothing on it: the payload `python -m bot compare --format discord` prints."""
    requests = await seeds_gateway.command("compare", topic=TOPIC)
    assert [r.kind for r in requests] == ["defer", "followup"]
    sent = requests[1].message
    assert_safe(requests)
    titles = [source.title for source, _ in searcher.sources()]
    cards = [e for e in sent["embeds"] if e.get("author", {}).get("name", "").startswith("Passage")]
    silent = [e for e in sent["embeds"] if e["title"] == "Say nothing on this"]
    assert cards and len(silent) == 1
    named = [line.removeprefix("• ") for line in unquote(silent[0]["description"]).split("\n")]
    assert sorted([unquote(c["title"]) for c in cards] + named) == sorted(titles)
    printed = json.loads(subprocess.run(
        [sys.executable, "-m", "bot", "compare", "--format", "discord", TOPIC], cwd=ROOT, check=True,
        capture_output=True, text=True, env=cli_env(seeds_gateway)).stdout)
    assert {k: sent[k] for k in ("content", "embeds", "allowed_mentions")} == printed


def cli_env(gateway: Gateway) -> dict[str, str]:
    """The command line's environment, over the bot's index, embedding as the test's searcher does."""
    settings = gateway.bot.settings
    return {**os.environ, "HF_HUB_OFFLINE": "1", "SEEDS_DIR": str(settings.seeds_dir),
            "CHROMA_PATH": str(settings.chroma_path), "DISCORD_TOKEN": "", "EMBEDDING_BACKEND": "sentence-transformers"}


@pytest.mark.slow
async def test_compare_shares_the_ask_cooldown(seeds_settings: IndexSettings, searcher: Searcher) -> None:
    """A /compare in the window of an /ask is refused privately with "try again"; an empty topic costs nothing."""
    gateway = await Gateway.connect(settings_for(seeds_settings, ask_cooldown_rate=1, ask_cooldown_seconds=60),
                                    searcher)
    try:
        empty = only(await gateway.command("compare", topic="   "), "reply").message
        assert empty["flags"] & EPHEMERAL and "empty" in empty["content"]
        await gateway.command("ask", question="How many Taliban fighters got Iranian visas?")
        refused = only(await gateway.command("compare", topic=TOPIC), "reply").message
        assert refused["flags"] & EPHEMERAL and "try again in" in refused["content"]
    finally:
        await gateway.close()


async def test_help_says_what_each_command_does(tmp_path: Path, seeds_copy: Path) -> None:
    """/help answers privately, in three lines, what /ask, Check in Dossier and /compare do, and points to
    /privacy."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    try:
        requests = await gateway.command("help")
    finally:
        await gateway.close()
    reply = only(requests, "reply").message
    assert reply["flags"] & EPHEMERAL
    lines = reply["content"].split("\n")
    assert len(lines) == 4 and lines[-1].startswith("-# /privacy")
    for line, command in zip(lines, ("**/ask**", f"**{CHECK}**", "**/compare**"), strict=False):
        assert line.startswith(command)
    assert_safe(requests)
