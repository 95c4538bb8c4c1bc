"""The whole deployment on this machine, for tests/test_deployment.py and bench/load.py: a `chroma run` server,
the question log in a PostgreSQL database, and bot processes on separate shards (tests/shard_worker.py), all
connected to the fake Discord of tests/bot/fake_discord.py, which simulated members ask through.

`Deployment` starts it all and stops it all; `ask_for` runs concurrent askers until told to stop, counting what
they got; `reindex` and `rollback` change the live generation as a moderator or an operator would, from outside the
bot processes, which follow it within INDEX_CHECK_SECONDS.
"""

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import GENERIC
from index.builds.pipeline import build
from index.settings import IndexSettings
from index.store.chroma import Store
from tests.bot.fake_discord import Answer, FakeDiscord, shard_of
from tests.conftest import ROOT, FakeEmbedder
from tests.index.store.test_chroma_server import chroma_server, free_port

FIRST_GUILD = 910000000000000001


def guilds_for(shard_count: int, per_shard: int) -> dict[int, int]:
    """Server ids (→ a channel id each), `per_shard` of them on every shard."""
    found: dict[int, int] = {}
    guild = FIRST_GUILD
    while len(found) < shard_count * per_shard:
        if sum(shard_of(g, shard_count) == shard_of(guild, shard_count) for g in found) < per_shard:
            found[guild] = guild + 7_000_000
        guild += 1 << 22
    return found


@dataclass
class Tally:
    """What the simulated members got."""

    answers: list[Answer] = field(default_factory=list)
    lost: list[tuple[int, str, str]] = field(default_factory=list)  # (server, question, what came back)

    @property
    def asked(self) -> int:
        return len(self.answers)

    @property
    def answered(self) -> int:
        return self.asked - len(self.lost)


class BotProcess:
    """One bot process on some shards, its log going to a file."""

    def __init__(self, env: dict[str, str], discord_url: str, log_file: Path, fake_embedder: bool) -> None:
        self.env = env
        self.health_port = int(env["HEALTH_PORT"])
        self.log_file = log_file
        args = [sys.executable, "-m", "tests.shard_worker", discord_url,
                *(["--fake-embedder"] if fake_embedder else [])]
        with log_file.open("ab") as output:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    def health(self) -> dict[str, Any]:
        """The bot's /health answer (an unreachable bot: unhealthy, with why)."""
        url = f"http://127.0.0.1:{self.health_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read()))
        except OSError as error:
            assert self.process.poll() is None, self.log_file.read_text(errors="replace")[-3000:]
            return {"healthy": False, "line": f"no answer: {error}"}

    def stop(self) -> int:
        """SIGTERM, as a supervisor stops it: the bot closes and writes what its log still holds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class Deployment:
    """A Chroma server, the log on PostgreSQL, and one bot process per entry of `shards`, against the fake Discord.

    With `fake_embedder`, the index is built in this process with the tests' fake embedder (fast, for tests);
    otherwise `python -m index build` builds it with the real model, which the bots then run (bench/load.py).
    """

    def __init__(self, folder: Path, seeds: Path, database_url: str, key: str, shards: list[list[int]],
                 shard_count: int, guilds_per_shard: int = 2, fake_embedder: bool = True,
                 **settings: str) -> None:
        self.folder = folder
        self.seeds = seeds
        self.fake_embedder = fake_embedder
        self.chroma_port = free_port()
        self.guilds = guilds_for(shard_count, guilds_per_shard)
        self.homes = [next(g for g in self.guilds if shard_of(g, shard_count) == shard) for shard in range(shard_count)]
        self.discord = FakeDiscord(self.guilds, shard_count)
        self.env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(self.chroma_port),
                    "SEEDS_DIR": str(seeds), "DATABASE_URL": database_url, "QUESTION_LOG_KEY": key,
                    "DISCORD_TOKEN": "a-token-for-the-fake-discord",
                    "MODERATOR_GUILD_IDS": ",".join(map(str, self.homes)),
                    "SHARD_COUNT": str(shard_count), "ASK_COOLDOWN_SECONDS": "0", "INDEX_CHECK_SECONDS": "0.5",
                    "GENERATIONS_PATH": str(folder / "generations"), "HF_HUB_OFFLINE": "1", **settings}
        if fake_embedder:
            self.env["EMBEDDING_MODEL"] = FakeEmbedder().name
        self.shards = shards
        self.bots: list[BotProcess] = []
        self.chroma: subprocess.Popen[bytes] | None = None
        self._stack = contextlib.ExitStack()

    @property
    def index_settings(self) -> IndexSettings:
        return IndexSettings(_env_file=None, seeds_dir=self.seeds, chroma_host="127.0.0.1",  # type: ignore[call-arg]
                             chroma_port=self.chroma_port, generations_path=self.folder / "generations")

    async def start(self) -> None:
        self.chroma = self._stack.enter_context(chroma_server(self.folder / "chroma", self.chroma_port))
        await asyncio.to_thread(self.build)
        await self.discord.start()
        for n, shard_ids in enumerate(self.shards):
            env = {**self.env, "SHARD_IDS": ",".join(map(str, shard_ids)), "HEALTH_PORT": str(free_port())}
            self.bots.append(BotProcess(env, self.discord.url, self.folder / f"bot-{n}.log", self.fake_embedder))
        for shard in {shard for ids in self.shards for shard in ids}:
            await self.discord.connected(shard, timeout=180)
        await self.until(lambda: all(bot.health()["healthy"] for bot in self.bots), "every bot is healthy", 180)

    async def stop(self) -> list[int]:
        """Stops the bots (SIGTERM), then the fake Discord and the Chroma server; returns the bots' exit codes."""
        codes = [await asyncio.to_thread(bot.stop) for bot in self.bots]
        await self.discord.stop()
        self._stack.close()
        return codes

    def logs(self) -> str:
        """What the bot processes logged (the Chroma server's requests left out), for a failing test to show."""
        return "\n".join(f"== {bot.log_file.name}\n" + "\n".join(
            line for line in bot.log_file.read_text(errors="replace").splitlines() if "httpx" not in line)
            for bot in self.bots)

    def build(self) -> None:
        """Builds the index from the seeds folder: the fake embedder here, or the real model in `index build`."""
        if self.fake_embedder:
            build(self.seeds, Store.open(self.index_settings), FakeEmbedder())
            return
        subprocess.run([sys.executable, "-m", "index", "build"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, timeout=600)

    def rollback(self) -> None:
        subprocess.run([sys.executable, "-m", "index", "rollback"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, timeout=300)

    def generation(self) -> int:
        pointer = Store.open(self.index_settings).pointer()
        assert pointer is not None
        return pointer.generation

    async def until(self, condition: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(condition):
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            await asyncio.sleep(0.2)

    async def serving(self, generation: int) -> None:
        """Waits until every bot answers from `generation`."""
        await self.until(lambda: all(bot.health()["index"]["generation"] == generation for bot in self.bots),
                         f"every bot answers from generation {generation}")

    async def ask_for(self, questions: list[str], askers: int, stop: asyncio.Event, tally: Tally,
                      seed: int = 7) -> None:
        """`askers` members asking one question after another, each in a random server, until `stop` is set."""
        chooser = random.Random(seed)

        async def member(number: int) -> None:
            while not stop.is_set():
                guild, question = chooser.choice(list(self.guilds)), chooser.choice(questions)
                answer = await self.discord.ask(guild, 940000000000000000 + number, question)
                tally.answers.append(answer)
                got = answer.message["content"] if answer.message is not None else "(nothing)"
                if answer.message is None or GENERIC in got:
                    tally.lost.append((guild, question, got))

        await asyncio.gather(*(member(n) for n in range(askers)))


@contextlib.contextmanager
def seeds_without(seeds: Path, source: str) -> Iterator[None]:
    """The seeds folder without one source for the block (a moderator removed it), then with it again."""
    moved = seeds.parent / f"{source}.removed"
    (seeds / source).rename(moved)
    try:
        yield
    finally:
        moved.rename(seeds / source)
