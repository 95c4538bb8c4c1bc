"""Moderators: /dossier reindex, sources and status behind is_moderator(), and the one error handler."""

import asyncio
import errno
import itertools
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from discord import app_commands

from bot.errors import GENERIC
from index.builds.pipeline import build
from index.store.chroma import Store
from index.store.pointer import StoreError
from tests.bot.harness import (
    ADMIN,
    ASKER,
    EPHEMERAL,
    MODERATOR,
    Gateway,
    Request,
    assert_safe,
    fake_index_gateway,
    hold_builds,
)

GROUP = "dossier"


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    yield gateway
    await gateway.close()


def only(requests: list[Request], kind: str) -> Request:
    found = [r for r in requests if r.kind == kind]
    assert len(found) == 1, [r.kind for r in requests]
    return found[0]


@pytest.mark.parametrize("sub", ["reindex", "sources", "status", "gaps", "stats", "checks", "rollback"])
async def test_member_is_refused(gateway: Gateway, sub: str, caplog: pytest.LogCaptureFixture) -> None:
    """A member without Manage Server or a moderator role is refused privately, and the refusal is logged."""
    with caplog.at_level(logging.WARNING, logger="bot"):
        requests = await gateway.command(f"{GROUP} {sub}", who=ASKER)
    reply = only(requests, "reply").message
    assert reply["flags"] & EPHEMERAL and "Only moderators" in reply["content"]
    assert len(requests) == 1
    assert any("asker" in r.getMessage() and "not a moderator" in r.getMessage() for r in caplog.records)


async def test_moderator_role_sees_status(gateway: Gateway) -> None:
    """A member with a MODERATOR_ROLE_IDS role gets the index status: counts, model, last build and builder."""
    reply = only(await gateway.command(f"{GROUP} status", who=MODERATOR), "reply").message
    assert reply["flags"] & EPHEMERAL
    fields = {f["name"]: f["value"] for f in reply["embeds"][0]["fields"]}
    pointer = gateway.bot.searcher.index.pointer
    assert fields["Documents"] == "5" and fields["Passages"] == str(pointer.chunks)
    assert fields["Model"] == "fake-hash-64" and fields["Started by"] == "command line"
    assert fields["Last build"].startswith("<t:")


async def test_manage_server_lists_sources(gateway: Gateway) -> None:
    """A member with Manage Server gets the sources, with their metadata and passage counts."""
    requests = await gateway.command(f"{GROUP} sources", who=ADMIN)
    reply = only(requests, "reply").message
    assert reply["content"].startswith("The index holds 5 documents")
    listing = reply["embeds"][0]["description"]
    for source, count in gateway.bot.searcher.sources():
        assert f"{count} passages" in listing and source.id.replace("_", "\\_") in listing
    assert "Salaam Times" in listing
    assert_safe(requests)


async def test_sources_lists_urls_safely(tmp_path: Path, seeds_copy: Path) -> None:
    """/dossier sources links a valid url; a hand-written one that is no valid link shows as escaped text."""
    toml = seeds_copy / "sources.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'author = "Rami Dabbas"', 'author = "Rami Dabbas"\nurl = "https://x.test/a>[Claim](https://phish.test)"').replace(
        'outlet = "Salaam Times"', 'outlet = "Salaam Times"\nurl = "https://salaam.example/ties_(2021)"'),
        encoding="utf-8")
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    try:
        listing = only(await gateway.command(f"{GROUP} sources", who=ADMIN), "reply").message["embeds"][0]
    finally:
        await gateway.close()
    assert "\n<https://salaam.example/ties_(2021)>" in listing["description"]
    bad = r"https://x.test/a>\[Claim\](https://phish.test) (not a valid link: fix it in sources.toml)"
    assert bad in listing["description"]


async def test_reindex_reports_changes_and_swaps_the_index(gateway: Gateway, seeds_copy: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Reindex shows progress, reports added, changed and removed documents, and the bot answers from it."""
    (seeds_copy / "005_new.txt").write_text("A new article.\n\nIran and the Taliban met again in Kabul this "
                                            "week, officials from both sides said on Monday.\n", encoding="utf-8")
    (seeds_copy / "004_9fd61aad6fe509e9.txt").unlink()
    changed = seeds_copy / "003_eb7467070494d04b.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more sentence of article text here.\n",
                       encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="bot"):
        requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    assert requests[0].kind == "defer" and requests[0].message["flags"] & EPHEMERAL
    edits = [r.message["content"] for r in requests if r.kind == "edit"]
    assert edits[0] == "Reindexing… starting."
    assert "1 added, 1 changed, 1 removed, 3 unchanged" in edits[-1] and "No errors." in edits[-1]
    pointer = gateway.bot.searcher.index.pointer
    assert pointer.generation == 2 and pointer.built_by.startswith("moderator")
    assert "005_new.txt" in {source.id for source, _ in gateway.bot.searcher.sources()}
    assert any("reindex started by moderator" in r.getMessage() for r in caplog.records)
    assert any("reindex by moderator" in r.getMessage() and "done" in r.getMessage() for r in caplog.records)
    assert_safe(requests)


async def test_reindex_with_nothing_changed(gateway: Gateway) -> None:
    """A reindex of an unchanged corpus says nothing changed and keeps the live generation."""
    requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("Nothing changed: 5 documents") and "5 unchanged" in last
    assert gateway.bot.searcher.index.pointer.generation == 1


async def test_reindex_refused_while_another_process_builds(gateway: Gateway) -> None:
    """While a build elsewhere (say, `python -m index build`) holds the store, reindex says so and waits for none."""
    with gateway.bot.searcher.store.build_lock("command line"):
        requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("A reindex is already running") and "command line" in last
    assert gateway.bot.searcher.index.pointer.generation == 1


async def test_reindex_failure_keeps_the_old_index(gateway: Gateway, seeds_copy: Path) -> None:
    """When the build fails, the moderator is told why and the previous index keeps answering."""
    shutil.rmtree(seeds_copy)
    requests = await gateway.command(f"{GROUP} reindex", who=ADMIN)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("Reindex failed:") and "previous index stays live" in last
    assert "SEEDS\\_DIR" in last and str(seeds_copy) not in last.replace("\\", "")  # the setting, not the path
    assert gateway.bot.searcher.index.pointer.generation == 1


async def test_second_reindex_is_refused_while_one_runs(gateway: Gateway, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reindex asked for during another is refused privately; the first shows live counts, then finishes."""
    gate = hold_builds(monkeypatch, gateway.bot.searcher.embedder, tmp_path / "gate")
    (gateway.bot.settings.seeds_dir / "005_new.txt").write_text(
        "Title\n\nIran and the Taliban met again in Kabul this week, officials said.\n", encoding="utf-8")
    first = asyncio.create_task(gateway.command(f"{GROUP} reindex", who=MODERATOR))
    await gate.held()
    await asyncio.sleep(0.2)  # several progress ticks go by while the build is held
    second = await gateway.command(f"{GROUP} reindex", who=ADMIN)
    refused = only(second, "reply").message
    assert refused["flags"] & EPHEMERAL and "already running" in refused["content"]
    gate.release()
    requests = await first
    edits = [r for r in requests if r.kind == "edit"]
    assert "Reindexing… reading documents: 6 of 6." in [r.message["content"] for r in edits]
    assert "1 added" in edits[-1].message["content"]
    interval = gateway.bot.settings.reindex_progress_seconds
    progress = [r.at for r in edits[1:-1]]
    assert all(later - earlier >= interval * 0.9 for earlier, later in itertools.pairwise(progress))


async def test_reindex_builds_in_a_child_process_and_a_killed_one_keeps_the_old_index(
        gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build runs in another process, its progress reaches the moderator live; killed, the old index stays."""
    gate = hold_builds(monkeypatch, gateway.bot.searcher.embedder, tmp_path / "gate")
    (gateway.bot.settings.seeds_dir / "005_new.txt").write_text(
        "Title\n\nIran and the Taliban met again in Kabul this week, officials said.\n", encoding="utf-8")
    before = gateway.bot.searcher.index.pointer
    first = asyncio.create_task(gateway.command(f"{GROUP} reindex", who=MODERATOR))
    child = await gate.held()
    assert child != os.getpid()
    await asyncio.sleep(0.3)
    shown = [r.message["content"] for r in gateway.http.requests if r.kind == "edit"]
    assert "Reindexing… reading documents: 6 of 6." in shown  # while the child still builds
    os.kill(child, signal.SIGKILL)
    requests = await first
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last == ("Reindex failed: the build process was killed by SIGKILL before it finished\n"
                    "The previous index stays live.")
    assert Store.open(gateway.bot.settings).pointer() == before == gateway.bot.searcher.index.pointer
    assert "005_new.txt" not in {source.id for source, _ in gateway.bot.searcher.sources()}
    gate.release()  # the next build is not held: the killed one left no lock behind
    requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    assert "1 added" in [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert "005_new.txt" in {source.id for source, _ in gateway.bot.searcher.sources()}


async def test_unexpected_error_is_logged_and_answered_generically(gateway: Gateway,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected exception in a command is logged with its traceback; the member gets a generic reply."""

    @app_commands.command(name="boom", description="fails")
    async def boom(interaction: object) -> None:
        raise RuntimeError("kaboom")

    gateway.bot.tree.add_command(boom)
    with caplog.at_level(logging.ERROR, logger="bot"):
        requests = await gateway.command("boom")
    reply = only(requests, "reply").message
    assert reply["flags"] & EPHEMERAL and reply["content"] == GENERIC
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "kaboom" in str(logged[0].exc_info[1]) and "/boom" in logged[0].getMessage()


async def test_bot_follows_an_index_built_by_another_process(tmp_path: Path, seeds_copy: Path) -> None:
    """A build from outside the bot (CLI, another bot) is picked up by the periodic index check."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, index_check_seconds=0)
    bot = gateway.bot
    before = bot.searcher.index.pointer.generation
    (seeds_copy / "005_new.txt").write_text("Title\n\nIran and the Taliban met again in Kabul this week, "
                                            "officials said.\n", encoding="utf-8")
    build(seeds_copy, Store.open(bot.settings), bot.searcher.embedder, built_by="another process")
    await bot.check_index()
    assert bot.searcher.index.pointer.generation == before + 1
    assert "005_new.txt" in {source.id for source, _ in bot.searcher.sources()}
    await gateway.close()


async def test_a_failed_index_check_keeps_answering_from_the_old_index(
        tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """If a newer index cannot be loaded, the check logs why and the bot keeps the index it has."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, index_check_seconds=0)
    index = gateway.bot.searcher.index

    def broken() -> bool:
        raise StoreError("the Chroma server is unreachable")

    monkeypatch.setattr(gateway.bot.searcher, "reload", broken)
    with caplog.at_level(logging.ERROR):
        await gateway.bot.check_index()
    assert gateway.bot.searcher.index is index
    assert "the Chroma server is unreachable" in caplog.text
    await gateway.close()


async def test_reindex_of_an_emptied_folder_is_held_until_forced(gateway: Gateway, seeds_copy: Path) -> None:
    """Reindex over an emptied seeds folder says why it did not switch; with force: True it switches."""
    question = "Why did Iran support the Taliban?"
    before = [hit.chunk.id for hit in gateway.bot.searcher.search(question).hits]
    for path in seeds_copy.glob("*.txt"):
        path.unlink()
    requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("Not switched: generation 1 stays live.") and "holds no .txt files" in last
    assert "force: True" in last
    assert [hit.chunk.id for hit in gateway.bot.searcher.search(question).hits] == before
    requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR, force=True)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("Reindex done: 0 documents") and "Switched with force" in last
    assert not gateway.bot.searcher.search(question).answered


async def test_reindex_on_a_full_disk_says_so(gateway: Gateway,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A store error the moderator can act on is told in words, and the previous index keeps answering."""

    def disk_full(*args: object, **kwargs: object) -> None:  # as the build process's error is raised again
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys.modules["bot.reindexing"], "build_in_child", disk_full)  # as the bot loaded it
    requests = await gateway.command(f"{GROUP} reindex", who=MODERATOR)
    last = [r for r in requests if r.kind == "edit"][-1].message["content"]
    assert last.startswith("Reindex failed: The disk holding") and "is full" in last
    assert "previous index stays live" in last and gateway.bot.searcher.index.pointer.generation == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "db-7f3a.invalid"])
async def test_a_log_server_error_shown_in_discord_names_no_host_or_port(tmp_path: Path, seeds_copy: Path,
                                                                          host: str) -> None:
    """A PostgreSQL question log that cannot be reached (nothing listening, or a host name that does not resolve):
    /dossier gaps and stats say the log is off and why, naming DATABASE_URL, never the server's host or port."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    gateway = await fake_index_gateway(tmp_path, seeds_copy, database_url=f"postgresql://dossier:pw@{host}:{port}/log",
                                       question_log_key="ab" * 32)
    try:
        said = [(await gateway.command(f"dossier {report}", who=MODERATOR))[-1].message["content"]
                for report in ("gaps", "stats")]
    finally:
        await gateway.close()
    for text in said:
        assert "question log is off" in text and "DATABASE\\_URL" in text, text
        assert host not in text and str(port) not in text, text
