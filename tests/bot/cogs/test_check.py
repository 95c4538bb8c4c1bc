"""Check in Dossier: the message command through the real CommandTree, over the real seeds index and model."""

import re
from typing import Any

import pytest

from bot.settings import Settings
from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.cogs.test_ask import assert_cards_verbatim, only, unquote
from tests.bot.harness import (
    DM_CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    SECOND_CHANNEL_ID,
    SECOND_GUILD_ID,
    SECOND_OWNER,
    Gateway,
    Request,
    assert_safe,
    settings_for,
)
from tests.bot.questionlog.test_question_log import rows

pytestmark = pytest.mark.slow  # the real model and the real seeds index

CLAIM = "The US Treasury sanctioned two Iranian officials in October 2018 for supporting the Taliban."
SANCTIONED = "In October 2018, the US Treasury Department sanctioned two Iranian officials"
CHAT = "lol my cat sat on the keyboard all evening so I am typing this slowly. "


def private_answer(requests: list[Request]) -> dict[str, Any]:
    """The answer of a check: deferred privately, then followed up privately."""
    assert [r.kind for r in requests] == ["defer", "followup"]
    assert requests[0].message["flags"] & EPHEMERAL and requests[1].message["flags"] & EPHEMERAL
    assert_safe(requests)
    return requests[1].message


async def test_a_message_is_checked_privately_with_who_else_reports_it(seeds_gateway: Gateway,
                                                                     searcher: Searcher) -> None:
    """A claim posted in a thread is answered only to the member who checked it: the passages carrying it, verbatim,
    each card naming the other outlets that report it; the log keeps no word of someone else's message."""
    message = seeds_gateway.message(CLAIM)
    answer = private_answer(await seeds_gateway.check(message))
    assert answer["content"].startswith(f"**Claim:** {CLAIM}\nPassages 1–3 of ")
    assert_cards_verbatim(answer, searcher)
    first = answer["embeds"][0]
    assert SANCTIONED in unquote(first["description"])
    assert first["fields"][0]["name"] == "Also reported by" and "PMOI/MEK" in first["fields"][0]["value"]
    assert rows(seeds_gateway, "SELECT via, private, question, outcome, guild_id FROM questions") == [
        ("check", 1, None, "answered", GUILD_ID)]


async def test_a_message_without_text_gets_a_clear_note(seeds_settings: IndexSettings, searcher: Searcher) -> None:
    """A message of only an attachment is told, privately, that there is no text to check; nothing is searched,
    so the member's cooldown is not spent."""
    gateway = await Gateway.connect(settings_for(seeds_settings, ask_cooldown_rate=1, ask_cooldown_seconds=60),
                                    searcher)
    try:
        picture = {"id": "1", "filename": "claim.png", "size": 2048, "url": "https://cdn.test/claim.png",
                   "proxy_url": "https://cdn.test/claim.png"}
        requests = await gateway.check(gateway.message("", attachments=[picture]))
        note = only(requests, "reply").message
        assert note["flags"] & EPHEMERAL
        assert "no text, only an attachment" in note["content"] and "/ask" in note["content"]
        assert_safe(requests)
        after = await gateway.command("ask", question=CLAIM)
        assert [r.kind for r in after] == ["defer", "followup"]
        assert rows(gateway, "SELECT via, question, outcome FROM questions ORDER BY asked_at") == [
            ("check", None, "refused"), ("slash", CLAIM, "answered")]
    finally:
        await gateway.close()


async def test_a_4000_character_message_is_checked_by_its_claim(seeds_gateway: Gateway, searcher: Searcher) -> None:
    """Of a 4,000-character message of chat around one claim, the claim is what is searched and shown, with a line
    saying the message was long."""
    half = CHAT * (1950 // len(CHAT))
    text = f"{half}{CLAIM} {half}"
    text += "ok " * ((4000 - len(text)) // 3)
    text = text.ljust(4000, "!")
    assert len(text) == 4000
    answer = private_answer(await seeds_gateway.check(seeds_gateway.message(text)))
    echoed = answer["content"].split("\n")[0]
    assert CLAIM in unquote(echoed.removeprefix("**Claim:** ")) and "keyboard" not in echoed
    assert "\n-# The message is 4,000 characters long" in answer["content"]
    assert SANCTIONED in unquote(answer["embeds"][0]["description"])
    assert_cards_verbatim(answer, searcher)


async def test_mentions_markdown_links_and_code_are_not_the_claim(seeds_gateway: Gateway) -> None:
    """A message full of mentions, markdown, a masked link and code is checked by its words: the echo holds no live
    mention, link or markup, nobody is pinged, and the claim in it is answered."""
    text = ("<@930000000000000001> @everyone <@&940000000000000001> look: **Iran** offered `sudo rm` "
            "[more than 300 visas](https://evil.test/x) to ||Taliban fighters|| <#920000000000000001> "
            "```\nprint('hi')\n``` <:pepe:123456789012345678> https://tracker.test/?id=1 <t:0:R>")
    answer = private_answer(await seeds_gateway.check(seeds_gateway.message(text)))
    echoed = answer["content"].split("\n")[0]
    assert unquote(echoed) == "Claim: look: Iran offered more than 300 visas to Taliban fighters"
    assert not re.search(r"<[@#:t/]|@everyone|https?://|`|\|\|", echoed)
    assert "300 visas" in unquote(answer["embeds"][0]["description"])


async def test_a_message_in_another_server_is_checked_without_keeping_its_words(seeds_gateway: Gateway) -> None:
    """In a server that is not a home server the check is answered privately as anywhere, and logged with no text."""
    seeds_gateway.join(SECOND_GUILD_ID)
    message = seeds_gateway.message(CLAIM, who=SECOND_OWNER, channel_id=SECOND_CHANNEL_ID, guild_id=SECOND_GUILD_ID)
    answer = private_answer(await seeds_gateway.check(message, who=SECOND_OWNER))
    assert SANCTIONED in unquote(answer["embeds"][0]["description"])
    assert rows(seeds_gateway, "SELECT via, question, guild_id, channel_id FROM questions") == [
        ("check", None, SECOND_GUILD_ID, None)]


async def test_a_message_in_a_dm_with_the_bot_is_checked(seeds_gateway: Gateway) -> None:
    """A message in the member's DM with the bot is checked privately too, and logged without text or channel."""
    message = {k: v for k, v in seeds_gateway.message(CLAIM, channel_id=DM_CHANNEL_ID).items()
               if k not in ("guild_id", "member")}
    answer = private_answer(await seeds_gateway.check(message))
    assert SANCTIONED in unquote(answer["embeds"][0]["description"])
    assert rows(seeds_gateway, "SELECT via, question, guild_id, channel_id FROM questions") == [
        ("check", None, None, None)]


async def test_a_check_shares_the_ask_cooldown(seeds_settings: IndexSettings, searcher: Searcher) -> None:
    """After an /ask, a check in the same window is refused privately with "try again"; the refusal is logged."""
    settings: Settings = settings_for(seeds_settings, ask_cooldown_rate=1, ask_cooldown_seconds=60)
    gateway = await Gateway.connect(settings, searcher)
    try:
        await gateway.command("ask", question=CLAIM)
        refused = only(await gateway.check(gateway.message(CLAIM)), "reply").message
        assert refused["flags"] & EPHEMERAL and "try again in" in refused["content"]
        assert rows(gateway, "SELECT via, outcome FROM questions ORDER BY asked_at") == [
            ("slash", "answered"), ("check", "refused")]
    finally:
        await gateway.close()


async def test_a_message_of_only_links_and_mentions_has_nothing_to_check(seeds_gateway: Gateway) -> None:
    """A message of links, mentions and code only is told there is no claim in words, privately."""
    requests = await seeds_gateway.check(seeds_gateway.message("<@930000000000000001> https://a.test `x = 1`"))
    note = only(requests, "reply").message
    assert note["flags"] & EPHEMERAL and "no claim in words" in note["content"]
    assert_safe(requests)
