"""A corpus passage full of mentions and markdown reaches Discord quoted word for word, unable to ping or break."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.test_discord_harness import BOT_ID, Gateway, assert_safe, bot_mention, fake_index_gateway

PLAIN = ("Iran and the Taliban signed a secret pact in the western city of Herat last spring, officials from "
         "both governments told reporters on Monday, adding that the deal covered water, fuel, border trade and "
         "refugees")
HOSTILE = (f"{PLAIN}. @everyone @here <@123456789012345678> of <@&234567890123456789> and <@!123456789012345678> "
           "knew; **read** `this` ||now|| [here](https://evil.test) ~~before~~ __they__ deny it.")
QUESTION = f"{PLAIN}?"


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    (seeds_copy / "005_hostile.txt").write_text(f"Hostile page\n\n{HOSTILE}\n", encoding="utf-8")
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    yield gateway
    await gateway.close()


def unquote(description: str) -> str:
    text = description.removeprefix("> ").replace("**", "")
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def hostile_card(message: dict) -> dict:
    cards = [e for e in message["embeds"] if "Herat last spring" in e["description"]]
    assert cards, [e.get("title") for e in message["embeds"]]
    assert cards[0]["title"] == "005\\_hostile"  # no title in sources.toml: the file name, escaped
    return cards[0]


async def test_hostile_passage_in_a_slash_answer(gateway: Gateway) -> None:
    """/ask quotes the hostile passage verbatim, with its mentions neutralised and its markdown escaped."""
    requests = await gateway.command("ask", question=QUESTION)
    assert_safe(requests)
    description = hostile_card(requests[-1].message)["description"]
    assert unquote(description) == HOSTILE
    assert "@everyone" not in description and "@here" not in description
    assert not re.search(r"<@[!&]?\d", description)
    assert not re.search(r"(?<!\\)(\*\*read|`this|\|\||\[here\]|~~|__)", description)


async def test_hostile_passage_in_a_mention_reply(gateway: Gateway) -> None:
    """The same passage in a reply to a mention: the HTTP payload allows no mentions at all."""
    requests = await gateway.say(f"<@{BOT_ID}> {QUESTION}", mentions=[bot_mention()])
    assert_safe(requests)
    assert unquote(hostile_card(requests[-1].message)["description"]) == HOSTILE
