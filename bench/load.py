"""Load test of the whole deployment on this machine: a `chroma run` server, the question log on a PostgreSQL server,
and two bot processes on separate shards (SHARD_COUNT=2, SHARD_IDS=0 and 1), all real, connected over websockets to
a fake Discord (tests/bot/fake_discord.py: its REST API and gateway on localhost, the only thing not real).

Run: .venv/bin/python bench/load.py [--seconds N]   (about ten minutes on 2 cores with the default 30 s a level)

Simulated members ask the bench's own questions (59, none an evaluation file's) with `/ask`, as gateway
INTERACTION_CREATE payloads through each bot's real CommandTree, in eight servers (four a shard), one question after
another, at 1, 10 and 50 concurrent askers (after a warm-up at 50 without a reindex, to see the memory that answering
alone takes). At a third of each level a build removes a source (a new generation), and at two thirds
`python -m index rollback` brings the previous one back; both processes follow each within INDEX_CHECK_SECONDS.
The bots run the real model (ONNX) over an index `python -m index build` made; the cooldown is off, since every
simulated member asks without pause.

Reported per level: questions answered per second, the latency a member sees (from the interaction sent to the
answer received), p50/p95/p99, answers lost (no answer, or an error instead) and log rows lost (questions asked
minus rows the log gained), and what the latency is made of (the bot's acknowledgement, then the answer); then each
process's memory: the bots' resident set (now and at its peak), the Chroma and PostgreSQL servers' proportional set
size, and the bots' after 1, 5 and 20 switches of generation (`switching`); and what one question costs a bot's CPU
alone. Progress goes to stderr, the tables and a JSON line to stdout.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import psycopg  # noqa: E402

from tests.bot.questionlog.databases import running_cluster  # noqa: E402
from tests.conftest import copy_of_seeds  # noqa: E402
from tests.deployment import Deployment, Tally, seeds_without  # noqa: E402

LEVELS = (1, 10, 50)
REMOVED = "004_9fd61aad6fe509e9.txt"  # the source a moderator removes partway, and the rollback brings back


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


ACTORS = ["Iran", "the Taliban", "the IRGC", "Pakistan", "Russia", "the United States"]
TOPICS = ["water from the Helmand river", "weapons for the Taliban", "Afghan refugees", "trade at the border",
          "the killing of Iranian diplomats", "ISIS-K", "the Hazaras", "Soleimani", "training camps"]
ASIDES = ["What is the capital of Peru?", "who won the football last night", "Is Iran closer to the Taliban now?",
          "When did Tehran start talking to the Taliban?", "Does the IRGC pay Taliban fighters?"]


def questions() -> list[str]:
    """The bench's own questions (none of them an evaluation file's): on the corpus's subject, answered or not,
    and off it."""
    return [f"What does {actor} say about {topic}?" for actor in ACTORS for topic in TOPICS] + ASIDES


def logged(url: str, start: float, end: float) -> int:
    """The rows of the questions asked between two moments (the bots stamp each with its arrival)."""
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM questions WHERE asked_at >= %s AND asked_at <= %s",
                                 (start, end)).fetchone()
        return int(row[0]) if row else 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def resident_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now, and its peak, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def memory_mb(pid: int) -> float:
    """A process's proportional set size (its private memory plus its share of what it shares), in MB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def postgres_mb(folder: Path) -> float:
    """All the PostgreSQL server's processes together (by proportional set size)."""
    pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(memory_mb(int(p)) for p in [pid, *children])


async def level(deployment: Deployment, askers: int, seconds: float, asked: list[str]) -> dict[str, Any]:
    """One level of load, with a reindex at a third and a rollback at two thirds. Its log rows are counted once the
    bots have stopped and written all they hold (`window`)."""
    start_generation = deployment.generation()
    stop, tally = asyncio.Event(), Tally()
    started, began = time.monotonic(), time.time()
    load = asyncio.create_task(deployment.ask_for(asked, askers, stop, tally, seed=askers))
    switches: list[float] = []
    await asyncio.sleep(seconds / 3)
    with seeds_without(deployment.seeds, REMOVED):
        moment = time.monotonic()
        await asyncio.to_thread(deployment.build)
        built = deployment.generation()
        await deployment.serving(built)
        switches.append(time.monotonic() - moment)
        say(f"  {askers} askers: generation {built} built and served by both processes in {switches[-1]:.1f} s")
        await asyncio.sleep(max(0.0, started + 2 * seconds / 3 - time.monotonic()))
        moment = time.monotonic()
        await asyncio.to_thread(deployment.rollback)
        await deployment.serving(start_generation)
        switches.append(time.monotonic() - moment)
        say(f"  {askers} askers: rolled back to generation {start_generation}, served by both in {switches[-1]:.1f} s")
    await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
    stop.set()
    await load
    elapsed = time.monotonic() - started
    answered = tally.answered
    done = [answer for answer in tally.answers if answer.message is not None]
    latencies = [answer.seconds * 1000 for answer in done]
    deferring = [answer.deferred * 1000 for answer in done if answer.deferred is not None]
    after = [(answer.seconds - answer.deferred) * 1000 for answer in done if answer.deferred is not None]
    return {"askers": askers, "questions": tally.asked, "seconds": round(elapsed, 1),
            "per_second": round(answered / elapsed, 1), "p50_ms": round(percentile(latencies, 0.50), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "defer_p50_ms": round(percentile(deferring, 0.50), 1),
            "defer_p95_ms": round(percentile(deferring, 0.95), 1),
            "answer_p50_ms": round(percentile(after, 0.50), 1), "answer_p95_ms": round(percentile(after, 0.95), 1),
            "answers_lost": len(tally.lost), "window": (began, time.time()),
            "generations": [built, start_generation], "switch_seconds": [round(s, 1) for s in switches]}


async def switching(deployment: Deployment, asked: list[str], count: int) -> dict[int, list[int]]:
    """The bots' resident memory after 1, 5 and `count` switches of generation (a build removing a source, then a
    rollback, in turn). After each, every bench question is asked once, one after another, in the servers of both
    shards in turn: each generation's caches fill, and few new answers (each holds its buttons for
    BUTTONS_TIMEOUT_SECONDS) add to what the levels left, so what grows is what switching leaves behind."""
    memory: dict[int, list[int]] = {}
    servers = list(deployment.guilds)
    for switch in range(1, count + 1):
        if switch % 2:
            with seeds_without(deployment.seeds, REMOVED):
                await asyncio.to_thread(deployment.build)
        else:
            await asyncio.to_thread(deployment.rollback)
        await deployment.serving(deployment.generation())
        for n, question in enumerate(asked):
            answer = await deployment.discord.ask(servers[n % len(servers)], 940000000000000000 + n, question)
            assert answer.message is not None, f"no answer to {question!r} after switch {switch}"
        if switch in (1, 5, count):
            memory[switch] = [round(resident_mb(bot.process.pid)[0]) for bot in deployment.bots]
            say(f"  after {switch} switches: bots at {memory[switch]} MB resident")
    return memory


def question_costs(deployment: Deployment, asked: list[str]) -> dict[str, float]:
    """What one question costs a bot's CPU, alone (median over the bench's questions, in this process, with the
    bots' model and index): encoding it, searching (its encode included), and rendering the Discord payload."""
    from bot.render import CARDS, answer_payload
    from bot.text import covered
    from index.model.onnx_model import question_embedder
    from index.search.searcher import Searcher
    from index.store.chroma import Store

    settings = deployment.index_settings
    embedder = question_embedder(settings)
    searcher = Searcher(Store.open_live(settings), embedder)
    parts: dict[str, list[float]] = {"encode_ms": [], "search_ms": [], "render_ms": []}
    for question in asked * 3:
        start = time.perf_counter()
        embedder.encode([question])
        encoded = time.perf_counter()
        answer = searcher.search(question, limit=CARDS)
        searched = time.perf_counter()
        answer_payload(answer, covered(searcher, answer))
        rendered = time.perf_counter()
        parts["encode_ms"].append((encoded - start) * 1000)
        parts["search_ms"].append((searched - encoded) * 1000)
        parts["render_ms"].append((rendered - searched) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in parts.items()}


async def run(seconds: float, switches: int) -> None:
    asked = questions()
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as folder:
        assert cluster is not None, "bench/load.py needs PostgreSQL installed (initdb): apt-get install postgresql"
        tmp = Path(folder)
        copy_of_seeds(tmp / "seeds")  # without checks.toml: a build that removes a source must switch
        url = cluster.create_database()
        deployment = Deployment(tmp, tmp / "seeds", url, os.urandom(32).hex(), shards=[[0], [1]], shard_count=2,
                                guilds_per_shard=4, fake_embedder=False)
        say("starting: a Chroma server, `python -m index build` with the real model, two bot processes…")
        began = time.monotonic()
        await deployment.start()
        say(f"  up in {time.monotonic() - began:.0f} s; {len(asked)} questions, {len(deployment.guilds)} servers")
        idle = [round(resident_mb(bot.process.pid)[0]) for bot in deployment.bots]
        stop, warm = asyncio.Event(), Tally()  # answering without a switch of generation, to see what that costs
        warming = asyncio.create_task(deployment.ask_for(asked, 50, stop, warm))
        await asyncio.sleep(seconds / 3)
        stop.set()
        await warming
        answered = [round(resident_mb(bot.process.pid)[0]) for bot in deployment.bots]
        say(f"  warm-up: {warm.asked} questions at 50 askers, no switch of generation")
        results = []
        try:
            for askers in LEVELS:
                say(f"{askers} concurrent askers for {seconds:.0f} s…")
                results.append(await level(deployment, askers, seconds, asked))
            assert deployment.chroma is not None
            memory = {"bots_idle_mb": idle, "bots_answered_mb": answered,
                      "bots_mb": [[round(mb) for mb in resident_mb(bot.process.pid)] for bot in deployment.bots],
                      "chroma_mb": round(memory_mb(deployment.chroma.pid)),
                      "postgres_mb": round(postgres_mb(cluster.folder))}
            say(f"{switches} switches of generation, each question asked once after each…")
            memory["after_switches_mb"] = await switching(deployment, asked, switches)
            costs = await asyncio.to_thread(question_costs, deployment, asked)
        finally:
            await deployment.stop()
        for result in results:
            result["log_rows_lost"] = result["questions"] - logged(url, *result.pop("window"))
    print_table(results, memory, costs, seconds)


def print_table(results: list[dict[str, Any]], memory: dict[str, Any], costs: dict[str, float],
                seconds: float) -> None:
    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"Dossier load test: 2 bot processes (shards 0 and 1 of 2), a Chroma server, PostgreSQL; {seconds:.0f} s a "
          f"level, a reindex and a rollback in each; {cpus} CPUs, load average {load:.1f} at the end")
    print("| askers | questions | answered/s | p50 | p95 | p99 | answers lost | log rows lost | both processes "
          "switched in |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['askers']} | {r['questions']:,} | {r['per_second']:.1f} | {r['p50_ms']:.0f} ms | "
              f"{r['p95_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['answers_lost']} | {r['log_rows_lost']} | "
              f"build {r['switch_seconds'][0]:.1f} s, rollback {r['switch_seconds'][1]:.1f} s |")
    bots = ", ".join(f"{now} MB (peak {peak} MB)" for now, peak in memory["bots_mb"])
    print(f"memory: bot processes {memory['bots_idle_mb']} MB resident once up, {memory['bots_answered_mb']} MB after "
          f"a warm-up at 50 askers without a switch, {bots} at the end (after {2 * len(results)} switches of "
          f"generation); Chroma server {memory['chroma_mb']} MB and PostgreSQL {memory['postgres_mb']} MB "
          "(proportional set size, all its processes)")
    print("what a member waits for, p50 / p95: | askers | the bot acknowledging (gateway, event loop, the deferral "
          "request) | then the answer (waiting for a thread, encode, search, rendering, the follow-up request) |")
    for r in results:
        print(f"| {r['askers']} | {r['defer_p50_ms']:.0f} / {r['defer_p95_ms']:.0f} ms | "
              f"{r['answer_p50_ms']:.0f} / {r['answer_p95_ms']:.0f} ms |")
    print(f"one question alone, in a bot's CPU (median): encode {costs['encode_ms']:.1f} ms, the search (its encode "
          f"included) {costs['search_ms']:.1f} ms, rendering {costs['render_ms']:.1f} ms")
    switched = memory["after_switches_mb"]
    first, last = switched[min(switched)], switched[max(switched)]
    growth = max((b - a) / a for a, b in zip(first, last, strict=True)) * 100
    print("memory after switches of generation: " + "; ".join(f"{n}: {mb} MB" for n, mb in sorted(switched.items()))
          + f" (bot processes; after {max(switched)} against after 1: {growth:+.1f} % at most, target within 10 %)")
    print(json.dumps({"levels": results, "memory": memory, "costs": costs, "cpus": cpus, "load": round(load, 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each level runs (default 30)")
    parser.add_argument("--switches", type=int, default=20, help="switches of generation for the memory figure")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.switches))


if __name__ == "__main__":
    main()
