"""Moderators' checks and rollback from Discord: /dossier reindex held by checks and forced, /dossier checks and
/dossier rollback, through the real CommandTree over a real Chroma index (fake embedder)."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.bot.harness import EPHEMERAL, MODERATOR, Gateway, Request, assert_safe, fake_index_gateway
from tests.index.builds.test_checks_rollback import HERAT, PERU, write_checks


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    yield gateway
    await gateway.close()


def last_edit(requests: list[Request]) -> str:
    """The final text of the private progress message."""
    assert requests[0].kind == "defer" and requests[0].message["flags"] & EPHEMERAL
    assert_safe(requests)
    return str([r for r in requests if r.kind == "edit"][-1].message["content"])


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def herat_passage(gateway: Gateway) -> str:
    return next(c.text for c in gateway.bot.searcher.index.chunks if c.source_id == HERAT and 200 < len(c.text) < 1000)


async def test_reindex_held_by_a_check_then_forced(gateway: Gateway, seeds_copy: Path) -> None:
    """A reindex that would break a check keeps the live index and says which check and how to force it;
    force: True switches."""
    write_checks(seeds_copy, (herat_passage(gateway), HERAT), (PERU, None))
    (seeds_copy / HERAT).unlink()
    held = unescaped(last_edit(await gateway.command("dossier reindex", who=MODERATOR)))
    assert held.startswith("Not switched:") and "generation 1 stays live" in held and "force: True" in held
    assert "Checks: 1 passed, 1 failed." in held and f"expected {HERAT}" in held and "(it passed before)" in held
    assert gateway.bot.searcher.index.pointer.generation == 1
    forced = last_edit(await gateway.command("dossier reindex", who=MODERATOR, force=True))
    assert forced.startswith("Reindex done") and gateway.bot.searcher.index.pointer.generation == 2


async def test_checks_against_the_live_index(gateway: Gateway, seeds_copy: Path) -> None:
    """/dossier checks runs checks.toml against the live index and lists what fails; without checks it says how."""
    none = await gateway.command("dossier checks", who=MODERATOR)
    assert "There are no checks" in none[-1].message["content"] and none[-1].message["flags"] & EPHEMERAL
    write_checks(seeds_copy, (herat_passage(gateway), HERAT), ("Who ordered the attacks in Herat?", "missing.txt"))
    found = unescaped((await gateway.command("dossier checks", who=MODERATOR))[-1].message["content"])
    assert found.startswith("Checks against the live index: 1 passed, 1 failed.")
    assert "“Who ordered the attacks in Herat?”: expected missing.txt" in found
    (seeds_copy / "checks.toml").write_text("[[check]]\nquestion = 'x'\n", encoding="utf-8")
    bad = unescaped((await gateway.command("dossier checks", who=MODERATOR))[-1].message["content"])
    assert "checks.toml, check 1" in bad


async def test_rollback_from_discord(gateway: Gateway, seeds_copy: Path) -> None:
    """/dossier rollback makes the previous generation live in the bot at once and says which and when it was
    built; with nothing to roll back to, it says so and changes nothing."""
    question = herat_passage(gateway)
    before = (await gateway.command("ask", question=question))[-1].message["embeds"]
    (seeds_copy / HERAT).unlink()
    await gateway.command("dossier reindex", who=MODERATOR)
    assert gateway.bot.searcher.index.pointer.generation == 2
    rolled = last_edit(await gateway.command("dossier rollback", who=MODERATOR))
    assert re.match(r"Rolled back: generation 1 is live again, built <t:\d+:f> by command line \(5 documents",
                    rolled)
    assert gateway.bot.searcher.index.pointer.generation == 1
    assert (await gateway.command("ask", question=question))[-1].message["embeds"] == before
    refused = last_edit(await gateway.command("dossier rollback", who=MODERATOR))
    assert "nothing to roll back to" in refused and gateway.bot.searcher.index.pointer.generation == 1
