"""Hostile text reaches Discord word for word, unable to ping, link, format or turn into Discord's own syntax.

A passage, its source's title, outlet and author, and the questions members ask are full of mentions, masked
links, slash-command, channel, timestamp and custom-emoji syntax; every body the bot sends must show them as
typed. The checker below reads each body the way Discord's parser does (a backslash escapes the next
character), independently of bot.quoting.
"""

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.bot.harness import (
    BOT_ID,
    MODERATOR,
    Gateway,
    Request,
    assert_safe,
    bot_mention,
    fake_index_gateway,
)

PLAIN = ("Iran and the Taliban signed a secret pact in the western city of Herat last spring, officials from "
         "both governments told reporters on Monday, adding that the deal covered water, fuel, border trade and "
         "refugees")
TAGS = ["<x:/[Claim](https://phish.test)>", "</ban:1>", "<t:0:R>", "<#1>", "<a:x:1>", "<:x:1>", "<id:customize>",
        "<#123456789012345678>", "[one](https://a.test) and [two](https://b.test)", "[x](<https://c.test>)"]
HOSTILE = (f"{PLAIN}. @everyone @here <@123456789012345678> of <@&234567890123456789> and <@!123456789012345678> "
           f"knew; **read** `this` ||now|| [here](https://evil.test) ~~before~~ __they__ deny it: {' '.join(TAGS)}.")
QUESTION = f"{PLAIN}?"
TITLE = "Hostile <t:0:R> page [Claim](https://phish.test) </ban:1>"
METADATA = {"title": TITLE, "outlet": "<#1> Outlet <a:x:1>", "author": "@everyone <@&234567890123456789> <:x:1>",
            "url": "https://hostile.example/article"}

# Each piece of the hostile text that Discord would turn into a ping, a mention, a slash command, a timestamp,
# an emoji or a link hiding its target, if it reached a body as typed.
ACTIVE = ["@everyone", "@here", "<@123456789012345678>", "<@&234567890123456789>", "<@!123456789012345678>",
          "<x:/", "[Claim](https://phish.test)", "</ban:1>", "<t:0:R>", "<#1>", "<a:x:1>", "<:x:1>",
          "<id:customize>", "<#123456789012345678>", "[one](https://a.test)", "[two](https://b.test)",
          "[x](<https://c.test>)", "[here](https://evil.test)"]


def live(text: str) -> str:
    """The text as Discord's parser sees it: every backslash-escaped character masked out."""
    return re.sub(r"\\(.)", "\x00", text, flags=re.DOTALL)


def texts(message: dict[str, Any]) -> list[str]:
    """Every string of a message that Discord shows: content, and each embed's visible parts."""
    found = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        found += [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", ""),
                  embed.get("author", {}).get("name", "")]
        found += [part for f in embed.get("fields", []) for part in (f["name"], f["value"])]
    return found


def assert_inert(requests: list[Request]) -> None:
    """No body the bot sent holds live Discord syntax, and none can ping."""
    assert_safe(requests)
    for request in requests:
        for text in texts(request.message):
            assert not [piece for piece in ACTIVE if piece in live(text)], text


def unquote(description: str) -> str:
    text = description.removeprefix("> ").replace("**", "")
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    (seeds_copy / "005_hostile.txt").write_text(f"Hostile page\n\n{HOSTILE}\n", encoding="utf-8")
    entry = "\n".join(f'{key} = "{value}"' for key, value in METADATA.items())
    with (seeds_copy / "sources.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n["005_hostile.txt"]\n{entry}\n')
    gateway = await fake_index_gateway(tmp_path, seeds_copy)
    yield gateway
    await gateway.close()


def hostile_card(message: dict[str, Any]) -> dict[str, Any]:
    cards = [e for e in message["embeds"] if "Herat last spring" in e["description"]]
    assert cards, [e.get("title") for e in message["embeds"]]
    return cards[0]


async def test_hostile_passage_in_a_slash_answer(gateway: Gateway) -> None:
    """/ask quotes the hostile passage verbatim under its hostile title and attribution, all of it inert."""
    requests = await gateway.command("ask", question=QUESTION)
    assert_inert(requests)
    card = hostile_card(requests[-1].message)
    assert unquote(card["description"]) == HOSTILE
    assert unquote(card["title"]) == TITLE and card["url"] == METADATA["url"]
    assert card["footer"]["text"].replace("\u200b", "").startswith(f"{METADATA['outlet']} · {METADATA['author']}")
    assert not re.search(r"(?<!\\)(\*\*read|`this|\|\||\[here\]|~~|__)", card["description"])


async def test_hostile_passage_in_a_mention_reply(gateway: Gateway) -> None:
    """The same passage in a reply to a mention: verbatim, inert, and the HTTP payload allows no mentions."""
    requests = await gateway.say(f"<@{BOT_ID}> {QUESTION}", mentions=[bot_mention()])
    assert_inert(requests)
    assert unquote(hostile_card(requests[-1].message)["description"]) == HOSTILE


async def test_every_outgoing_body_is_inert(gateway: Gateway) -> None:
    """Echoed questions, answers, context, the no-answer listing, checked messages, comparisons, help, sources,
    status and refusals: all inert."""
    tags = f"{' '.join(TAGS[:5])} @everyone"  # the echo keeps 200 characters: these come first
    hostile_question = f"{tags} {PLAIN}?"
    answered = await gateway.command("ask", question=hostile_question)
    assert hostile_card(answered[-1].message)
    links_without_preview = re.sub(r"(https://[^\s)]+)", r"<\1>", tags)
    assert unquote(answered[-1].message["content"]).startswith(f"Q: {links_without_preview} Iran")
    requests = answered + await gateway.press(answered[-1], "Context 1")
    requests += await gateway.say(f"<@{BOT_ID}> {hostile_question}", mentions=[bot_mention()])
    requests += await gateway.command("ask", question=f"What is the boiling point of water {' '.join(TAGS)}?")
    checked = await gateway.check(gateway.message(hostile_question))
    assert hostile_card(checked[-1].message)
    requests += checked
    requests += await gateway.command("compare", topic=hostile_question)
    requests += await gateway.command("help")
    requests += await gateway.command("dossier sources", who=MODERATOR)
    requests += await gateway.command("dossier status", who=MODERATOR)
    requests += await gateway.command("dossier remove", who=MODERATOR, source="</ban:1>/<t:0:R>.txt")
    assert len([r for r in requests if r.message]) >= 10
    assert_inert(requests)
