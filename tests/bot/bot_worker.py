"""A bot process for the multi-process tests: the real Dossier client, its Discord network faked as in the Discord
tests, over the index its settings name (CHROMA_PATH, or a Chroma server in CHROMA_HOST/CHROMA_PORT), with the fake
embedder.

`python -m tests.bot.bot_worker QUESTION` prints one JSON line at start and one each time the bot starts answering
from another generation (it looks every INDEX_CHECK_SECONDS): {"generation", "built_at", "answer"}, where
`answer` is the content and embeds of what the bot replies to `/ask QUESTION`. `BotProcess` runs one from a test.
"""

import asyncio
import json
import queue
import subprocess
import sys
import threading
from typing import Any

from bot.settings import Settings
from index.search.searcher import Searcher
from tests.bot.harness import Gateway
from tests.conftest import ROOT, FakeEmbedder, on_topic_scorer


class BotProcess:
    """A `tests.bot.bot_worker` process: the bot over the index its environment names, printing what it answers
    whenever that changes."""

    def __init__(self, env: dict[str, str], question: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.bot.bot_worker", question], env=env, cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout or []],
                         daemon=True).start()

    def next(self, timeout: float = 120) -> dict[str, Any]:
        """The next thing the bot says it answers from; fails if it says nothing in time."""
        try:
            return dict(json.loads(self.lines.get(timeout=timeout)))
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"the bot said nothing in {timeout} s: {self.process.communicate()[1]}") from None

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)


async def answer(gateway: Gateway, question: str) -> dict[str, Any]:
    message = (await gateway.command("ask", question=question))[-1].message
    return {"content": message["content"], "embeds": message["embeds"]}


async def main(question: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    gateway = await Gateway.connect(settings, Searcher.open(settings, FakeEmbedder(), scorer=on_topic_scorer()))
    await answer(gateway, question)  # the first answer in a server says what the log keeps; the others compare
    shown = None
    while True:
        pointer = gateway.bot.searcher.index.pointer
        if pointer != shown:
            shown = pointer
            print(json.dumps({"generation": pointer.generation, "built_at": pointer.built_at,
                              "answer": await answer(gateway, question)}), flush=True)
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
