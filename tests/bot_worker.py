"""A bot process for the multi-process tests: the real Dossier client, its Discord network faked as in the Discord
tests, over the index its settings name (a Chroma server in CHROMA_HOST/CHROMA_PORT), with the fake embedder.

`python -m tests.bot_worker QUESTION` prints one JSON line at start and one each time the bot starts answering
from another generation (it looks every INDEX_CHECK_SECONDS): {"generation", "built_at", "answer"}, where
`answer` is the content and embeds of what the bot replies to `/ask QUESTION`.
"""

import asyncio
import json
import sys
from typing import Any

from bot.settings import Settings
from index.search import Searcher
from tests.conftest import FakeEmbedder, on_topic_scorer
from tests.test_discord_harness import Gateway


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
