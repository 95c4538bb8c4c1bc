"""The deployment past one machine, on this one: a `chroma run` server, the question log on PostgreSQL, and two bot
processes on separate shards, connected over real websockets to a fake Discord (only Discord is fake). Members ask
through the real gateway payloads and CommandTree; the processes answer, log together, follow a reindex and a
rollback under load, and report their health to a supervisor's probe."""

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.bot.fake_discord import shard_of
from tests.bot.questionlog.databases import NO_POSTGRES, Cluster
from tests.conftest import ROOT, copy_of_seeds
from tests.deployment import Deployment, Tally, seeds_without
from tests.index.builds.test_checks_rollback import HERAT

pytestmark = pytest.mark.slow

MISSING = "Kaftarzadeh"  # a name the corpus never mentions: questions with it go unanswered, into gaps


@pytest_asyncio.fixture(loop_scope="function")
async def deployment(tmp_path: Path, postgres: Cluster | None) -> AsyncIterator[Deployment]:
    """Two bot processes, shard 0 and shard 1 of 2, each asked to sync the commands at start-up."""
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    seeds = copy_of_seeds(tmp_path / "seeds")
    url = postgres.create_database()
    deployed = Deployment(tmp_path, seeds, url, "ab" * 32, shards=[[0], [1]], shard_count=2,
                          SYNC_COMMANDS_GLOBALLY="true")
    try:
        await deployed.start()
        yield deployed
    finally:
        await deployed.stop()
        postgres.drop_database(url)


def questions(deployment: Deployment) -> list[str]:
    """Questions the fake embedder answers (a passage's own words), and the same with a name the corpus lacks."""
    from index.search.searcher import Searcher
    from tests.conftest import FakeEmbedder

    chunks = Searcher.open(deployment.index_settings, FakeEmbedder()).index.chunks
    passages = [chunk.text for chunk in chunks if 200 < len(chunk.text) < 900][:6]
    return passages + [f"{passage} {MISSING}" for passage in passages[:3]]


def cli(deployment: Deployment, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**deployment.env, **(env or {})}, timeout=300)


async def test_two_processes_on_two_shards_answer_and_log_together(deployment: Deployment) -> None:
    """Each process identifies its own shard and gets its shard's servers; only the process with shard 0 syncs the
    commands; members in every server are answered; each process is healthy to `python -m bot health`; and one
    `python -m bot gaps` shows the unanswered questions of both shards' home servers."""
    discord = deployment.discord
    assert sorted(discord.identified) == [(0, 2), (1, 2)]
    global_syncs = [r for r in discord.requests if r[0] == "PUT" and r[1] == "applications/900000000000000001/commands"]
    assert len(global_syncs) == 1
    for shard, bot in enumerate(deployment.bots):
        probed = cli(deployment, "health", env={"HEALTH_PORT": str(bot.health_port)})
        assert probed.returncode == 0, probed.stdout + probed.stderr
        assert probed.stdout.startswith(f"healthy: gateway connected (shards [{shard}] of 2); index readable, "
                                        "generation 1; question log writable, 0 entries lost since start")

    asked = questions(deployment)
    unanswered = {home: f"{asked[0]} {MISSING} asked in {home}" for home in deployment.homes}
    answers = await asyncio.gather(*(discord.ask(guild, 940000000000000001, question)
                                     for guild in deployment.guilds for question in asked[:2]),
                                   *(discord.ask(home, 940000000000000002, question)
                                     for home, question in unanswered.items()))
    assert all(answer.message is not None and answer.message["embeds"] for answer in answers)
    assert {answer.shard for answer in answers} == {0, 1}
    assert [code for code in await deployment.stop() if code != 0] == []

    logged = [json.loads(line) for line in cli(deployment, "log", "export", "--json").stdout.splitlines()[1:]]
    by_shard = Counter(shard_of(row["guild_id"], 2) for row in logged if row["table"] == "questions")
    assert by_shard == Counter(answer.shard for answer in answers), deployment.logs()
    gaps = cli(deployment, "gaps", "--json")
    assert gaps.returncode == 0, gaps.stderr
    shown = json.dumps(json.loads(gaps.stdout)["groups"])
    for home in unanswered:
        assert f"asked in {home}" in shown
    stats = json.loads(cli(deployment, "stats", "--json").stdout)
    assert stats["questions"] == len(answers)


async def test_a_reindex_and_a_rollback_under_load_lose_no_answer_and_no_row(deployment: Deployment) -> None:
    """Ten members ask without pause while a build removes a source and a rollback brings it back: both processes
    follow each switch, every question is answered, and the log holds a row for every question, written by
    both processes, from both generations."""
    stop, tally = asyncio.Event(), Tally()
    load = asyncio.create_task(deployment.ask_for(questions(deployment), askers=10, stop=stop, tally=tally))
    await asyncio.sleep(2)
    with seeds_without(deployment.seeds, HERAT):
        await asyncio.to_thread(deployment.build)
        await deployment.serving(2)
        await asyncio.sleep(1)
        await asyncio.to_thread(deployment.rollback)
        await deployment.serving(1)
    await asyncio.sleep(1)
    stop.set()
    await load
    assert tally.asked > 50 and tally.lost == []
    assert [code for code in await deployment.stop() if code != 0] == []

    counted = cli(deployment, "log", "export", "--json")
    assert counted.returncode == 0, counted.stderr
    rows = [json.loads(line) for line in counted.stdout.splitlines()[1:]]
    logged = [row for row in rows if row["table"] == "questions"]
    assert len(logged) == tally.asked
    assert {row["generation"] for row in logged} == {1, 2}
    assert {shard_of(row["guild_id"], 2) for row in logged} == {0, 1}


async def test_health_says_when_the_gateway_or_the_log_server_is_down(deployment: Deployment,
                                                                      postgres: Cluster) -> None:
    """A shard whose gateway connection dropped is unhealthy until it reconnects; while PostgreSQL restarts,
    members are still answered, the probe says the log is not writable, and once it is back the questions asked
    meanwhile are written: none lost."""
    first, second = deployment.bots
    await deployment.discord.drop(1)
    seen = second.health()
    assert not seen["healthy"] and not seen["gateway"]["ok"], seen
    await deployment.discord.connected(1)
    await deployment.until(lambda: second.health()["healthy"], "the second process is healthy again")
    assert first.health()["healthy"]

    asked = questions(deployment)
    postgres.stop_server()
    try:
        down = first.health()
        assert not down["healthy"] and not down["log"]["ok"] and "question log not writable" in down["line"], down
        during = await asyncio.gather(*(deployment.discord.ask(guild, 940000000000000003, asked[1])
                                        for guild in deployment.guilds))
        assert all(answer.message is not None and answer.message["embeds"] for answer in during)
    finally:
        postgres.start_server()
    await deployment.until(lambda: all(bot.health()["healthy"] for bot in deployment.bots),
                           "both processes write to the log again", timeout=60)
    assert [bot.health()["log"]["lost"] for bot in deployment.bots] == [0, 0]
    assert [code for code in await deployment.stop() if code != 0] == []
    logged = json.loads(cli(deployment, "stats", "--json").stdout)
    assert logged["questions"] == len(during)
    said = "".join(bot.log_file.read_text() for bot in deployment.bots)
    assert "lost the connection to postgresql://dossier:***@127.0.0.1" in said and postgres.password not in said
