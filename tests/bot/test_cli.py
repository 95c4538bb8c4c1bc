"""The bot's command line and settings: `python -m bot` without a token, and `ask --format discord`."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.questionlog.privacy import notice
from bot.quoting import markdown
from bot.settings import Settings
from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.harness import GUILD_ID, NO_PINGS, Gateway, assert_within_limits, settings_for
from tests.conftest import ROOT

QUESTIONS = ["How many Taliban fighters got Iranian visas?", "What is the boiling point of water?",
             "@everyone <@&940000000000000001> **Iran** and the `Taliban`?", "x" * 5000, "\u200b"]


@pytest.mark.parametrize("token", [None, "  "], ids=["unset", "blank"])
def test_bot_without_token_exits_2_with_directions(tmp_path: Path, token: str | None) -> None:
    """`python -m bot` with no DISCORD_TOKEN exits 2, pointing to .env.example and to `python -m bot ask`."""
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"} | {"PYTHONPATH": str(ROOT)}
    if token is not None:
        env["DISCORD_TOKEN"] = token
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert ".env.example" in result.stderr and "python -m bot ask" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_never_prints() -> None:
    """The token is a secret: neither the settings' repr nor their str shows it."""
    settings = Settings(_env_file=None, discord_token="abc.def.secret")  # type: ignore[call-arg]
    assert "secret" not in repr(settings) and "secret" not in str(settings)


@pytest.mark.parametrize("raw", ["1, 2", "[1, 2]", "1,2,"])
def test_moderator_role_ids_from_the_environment(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MODERATOR_ROLE_IDS may be comma-separated ids or a JSON list."""
    monkeypatch.setenv("MODERATOR_ROLE_IDS", raw)
    assert Settings(_env_file=None).moderator_role_ids == [1, 2]  # type: ignore[call-arg]


def test_env_example_documents_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """.env.example names every setting, and a .env copied from it loads as it stands."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.MULTILINE))
    assert named == {name.upper() for name in Settings.model_fields}
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert settings.moderator_role_ids == [] and settings.dev_guild_id is None and settings.discord_token is None


@pytest.mark.slow
async def test_ask_format_discord_prints_what_the_bot_sends(
        seeds_settings: IndexSettings, searcher: Searcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One payload per question, inside every limit, pinging no one, and the same one /ask sends (the first answer
    in a server adds one line on what the question log keeps)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("SEEDS_DIR", str(seeds_settings.seeds_dir))
    monkeypatch.setenv("CHROMA_PATH", str(seeds_settings.chroma_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(QUESTIONS) + "\n"))
    assert main(["ask", "--format", "discord", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(QUESTIONS)
    payloads = [json.loads(line) for line in lines]
    for payload in payloads:
        assert set(payload) == {"content", "embeds", "allowed_mentions"}
        assert payload["allowed_mentions"] == NO_PINGS
        assert_within_limits(payload)
    assert "@everyone" not in payloads[2]["content"] and "<@&9" not in payloads[2]["content"]
    assert "5,000 characters" in payloads[3]["content"] and "empty" in payloads[4]["content"]

    settings = settings_for(seeds_settings)
    gateway = await Gateway.connect(settings, searcher)
    try:
        for n, (question, payload) in enumerate(zip(QUESTIONS[:2], payloads, strict=False)):
            sent = next(r for r in await gateway.command("ask", question=question) if r.kind == "followup")
            told = f"\n-# {markdown(notice(settings, GUILD_ID))}" if n == 0 else ""
            assert sent.message["content"] == payload["content"] + told
            assert sent.message["embeds"] == payload["embeds"]
    finally:
        await gateway.close()
