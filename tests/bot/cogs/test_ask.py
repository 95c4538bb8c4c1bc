"""Members asking: /ask and mentions through the real CommandTree and handlers, over the real seeds index."""

import logging
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.settings import Settings
from index.search.searcher import Searcher
from index.settings import IndexSettings
from tests.bot.harness import (
    BOT_ID,
    EPHEMERAL,
    NO_PINGS,
    OTHER_MEMBER,
    THREAD_ID,
    Gateway,
    Request,
    assert_safe,
    bot_mention,
    settings_for,
)
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow  # the real model and the real seeds index

VISAS = "How many Taliban fighters got Iranian visas?"
BROAD = "How does Iran support the Taliban?"
OFF_TOPIC = "What is the boiling point of water at sea level?"


@pytest.fixture
def settings(seeds_settings: IndexSettings) -> Settings:
    return settings_for(seeds_settings)


@pytest_asyncio.fixture(loop_scope="function")  # the bot must live on the test's own event loop
async def gateway(settings: Settings, searcher: Searcher) -> AsyncIterator[Gateway]:
    gateway = await Gateway.connect(settings, searcher)
    yield gateway
    await gateway.close()


def seed_texts() -> dict[str, str]:
    return {path.name: " ".join(path.read_text(encoding="utf-8").split()) for path in SEEDS.glob("*.txt")}


def unquote(description: str) -> str:
    """The passage a card quotes, with the block quote, the emphasis and the escapes taken off."""
    text = description.removeprefix("> ").replace("**", "")
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def only(requests: list[Request], kind: str) -> Request:
    found = [r for r in requests if r.kind == kind]
    assert len(found) == 1, [r.kind for r in requests]
    return found[0]


def assert_cards_verbatim(message: dict[str, Any], searcher: Searcher) -> None:
    """Each card quotes its source word for word, under that source's title, with a ¶ number."""
    titles = {source.title: source.id for source, _ in searcher.sources()}
    texts = seed_texts()
    assert message["embeds"]
    for embed in message["embeds"]:
        assert embed["description"].startswith("> ")
        assert unquote(embed["description"]) in texts[titles[embed["title"]]]
        assert re.search(r"¶ \d+$", embed["footer"]["text"])


async def test_ask_defers_then_quotes_the_seeds(gateway: Gateway, searcher: Searcher,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """/ask defers first, searches off the event loop, then follows up with verbatim quote cards."""
    threads = []
    search = searcher.search

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return search(*args, **kwargs)

    monkeypatch.setattr(searcher, "search", spy)
    requests = await gateway.command("ask", question=VISAS)
    assert [r.kind for r in requests] == ["defer", "followup"]
    assert requests[0].body["type"] == 5 and not requests[0].message.get("flags", 0) & EPHEMERAL
    assert threads and threading.main_thread() not in threads
    message = requests[1].message
    assert message["content"].startswith(f"**Q:** {VISAS}\nPassages 1–3 of ")
    assert len(message["embeds"]) == 3
    assert_cards_verbatim(message, searcher)
    assert "more than 300 visas" in unquote(message["embeds"][0]["description"])
    assert message["allowed_mentions"] == NO_PINGS
    assert_safe(requests)


async def test_ask_emphasises_the_best_sentence(gateway: Gateway, searcher: Searcher) -> None:
    """In a passage of several sentences, the one that shares most words with the question is bold."""
    question = "What took Iran to the brink of war with Afghanistan in 1998?"
    message = only(await gateway.command("ask", question=question), "followup").message
    bold = [re.findall(r"\*\*(.+?)\*\*", e["description"]) for e in message["embeds"]]
    assert any("1998" in sentence for found in bold for sentence in found)


async def test_ask_abstains_and_names_the_sources(gateway: Gateway, searcher: Searcher) -> None:
    """An off-topic question gets no quotes: the reply says so and lists what the corpus covers."""
    message = only(await gateway.command("ask", question=OFF_TOPIC), "followup").message
    assert "Off topic: the corpus does not cover this." in message["content"]
    listing = message["embeds"][0]["description"]
    assert all(source.title in listing for source, _ in searcher.sources())
    assert "components" not in message or not message["components"]


async def test_not_answered_shows_related_cards_unlike_answer_cards(gateway: Gateway, searcher: Searcher) -> None:
    """On topic but unanswerable: the reply names what the corpus never mentions and shows grey cards titled
    "not an answer", each quoting its source verbatim with the source's title and paragraph, and no buttons."""
    question = "What did Zorvanek say about Iranian rifles for the Taliban?"
    related = only(await gateway.command("ask", question=question), "followup").message
    answer = only(await gateway.command("ask", question=VISAS), "followup").message
    assert "The corpus never mentions Zorvanek." in related["content"]
    assert "not an answer" in related["content"]
    texts = seed_texts()
    titles = {source.title: source.id for source, _ in searcher.sources()}
    assert 1 <= len(related["embeds"]) <= 3
    for embed in related["embeds"]:
        assert "not an answer" in embed["title"] and embed["color"] != answer["embeds"][0]["color"]
        title, where = embed["footer"]["text"].split(" — ", 1)
        assert unquote(embed["description"]) in texts[titles[title]] and re.search(r"¶ \d+$", where)
    assert not related.get("components")


async def test_private_ask_is_ephemeral(gateway: Gateway) -> None:
    """private:True makes the deferral, and so the answer, visible to the asker only."""
    requests = await gateway.command("ask", question=VISAS, private=True)
    assert requests[0].body["type"] == 5 and requests[0].message["flags"] & EPHEMERAL
    assert only(requests, "followup").message["flags"] & EPHEMERAL


HOSTILE = [
    "@everyone @here what does Iran send to the Taliban?",
    "<@&940000000000000001> <@930000000000000001> <@!930000000000000002> Iran and the Taliban?",
    "**bold** `code` ```block``` > quote\n# heading [link](http://x.test) ||spoiler|| -# small Iran Taliban",
    "Iran Taliban " * 400,
]


@pytest.mark.parametrize("question", HOSTILE, ids=["everyone", "mentions", "markdown", "5000-chars"])
async def test_hostile_questions_cannot_ping_or_overflow(gateway: Gateway, question: str) -> None:
    """Mentions and markdown in a question are neutralised in the echo; nothing pings or exceeds a limit."""
    requests = await gateway.command("ask", question=question)
    assert_safe(requests)
    for request in requests:
        content = request.message.get("content") or ""
        assert "@everyone" not in content and "@here" not in content
        assert not re.search(r"<@[!&]?\d", content)
        assert not re.search(r"(?<!\\)\*\*bold|(?<!\\)\[link\]\(|(?<!\\)`code", content)


@pytest.mark.parametrize(("question", "says"), [("x" * 5000, "5,000 characters long"), ("", "empty"),
                                               ("   \u200b  ", "empty")], ids=["5000-chars", "empty", "blank"])
async def test_invalid_questions_get_a_private_explanation(gateway: Gateway, question: str, says: str) -> None:
    """A question that cannot be searched is answered at once, privately, with what to change."""
    requests = await gateway.command("ask", question=question)
    reply = only(requests, "reply").message
    assert reply["flags"] & EPHEMERAL
    assert says in reply["content"]
    assert_safe(requests)


async def test_cooldown_refunded_for_invalid_input(seeds_settings: IndexSettings, searcher: Searcher) -> None:
    """An invalid /ask does not use up the cooldown; a valid one does, for /ask and mentions alike."""
    gateway = await Gateway.connect(
        settings_for(seeds_settings, ask_cooldown_rate=1, ask_cooldown_seconds=60), searcher)
    try:
        assert only(await gateway.command("ask", question="  "), "reply").message["flags"] & EPHEMERAL
        assert [r.kind for r in await gateway.command("ask", question=VISAS)] == ["defer", "followup"]
        refused = only(await gateway.command("ask", question=VISAS), "reply").message
        assert refused["flags"] & EPHEMERAL and "try again in" in refused["content"]
        mention = await gateway.say(f"<@{BOT_ID}> {VISAS}", mentions=[bot_mention()])
        assert "try again in" in only(mention, "send").message["content"]
        other = await gateway.command("ask", who=OTHER_MEMBER, question=VISAS)
        assert [r.kind for r in other] == ["defer", "followup"]
    finally:
        await gateway.close()


@pytest.mark.parametrize("text", [VISAS, ""], ids=["question", "empty"])
async def test_a_flood_of_mentions_gets_two_replies_at_most(seeds_settings: IndexSettings, searcher: Searcher,
                                                            text: str) -> None:
    """10 rapid mentions, with a question or bare, get one reply (the answer, or what each command does) and one
    "slow down", then silence."""
    gateway = await Gateway.connect(
        settings_for(seeds_settings, ask_cooldown_rate=1, ask_cooldown_seconds=60), searcher)
    try:
        replies = [r for _ in range(10)
                   for r in await gateway.say(f"<@{BOT_ID}> {text}", mentions=[bot_mention()])]
        other = await gateway.say(f"<@{BOT_ID}> {VISAS}", who=OTHER_MEMBER, mentions=[bot_mention()])
    finally:
        await gateway.close()
    assert [r.kind for r in replies] == ["send", "send"]
    assert ("**/ask**" if not text else "**Q:**") in replies[0].message["content"]
    assert "try again in" in replies[1].message["content"]
    assert only(other, "send").message["content"].startswith("**Q:**")  # another member is not held back
    assert_safe(replies)


async def test_mention_in_a_thread_replies_in_place(gateway: Gateway, searcher: Searcher) -> None:
    """A message mentioning the bot in a thread gets a reply there, quoting the seeds, pinging no one."""
    requests = await gateway.say(f"<@{BOT_ID}> {VISAS}", mentions=[bot_mention()])
    reply = only(requests, "send")
    assert f"/channels/{THREAD_ID}/messages" in reply.url
    assert str(reply.body["message_reference"]["channel_id"]) == str(THREAD_ID)
    assert reply.message["content"].startswith(f"**Q:** {VISAS}")
    assert_cards_verbatim(reply.message, searcher)
    assert_safe(requests)


async def test_mention_needs_the_bot_and_a_person(gateway: Gateway) -> None:
    """@everyone, a message without the bot's mention, and other bots' messages get no reply."""
    assert await gateway.say(f"@everyone {VISAS}") == []
    assert await gateway.say(VISAS) == []
    robot = {**OTHER_MEMBER, "user": {**OTHER_MEMBER["user"], "bot": True}}
    assert await gateway.say(f"<@{BOT_ID}> {VISAS}", who=robot, mentions=[bot_mention()]) == []


@pytest.mark.parametrize("text", ["", "  help?", "\u200b"], ids=["bare", "help", "blank"])
async def test_a_bare_mention_says_what_each_command_does(gateway: Gateway, caplog: pytest.LogCaptureFixture,
                                                          text: str) -> None:
    """A mention with nothing else, or only "help", gets /help's three lines in place, without an error in the
    log."""
    with caplog.at_level(logging.ERROR):
        requests = await gateway.say(f"<@{BOT_ID}>{text}", mentions=[bot_mention()])
    content = only(requests, "send").message["content"]
    assert all(command in content for command in ("/ask", "Check in Dossier", "/compare", "/privacy"))
    assert not caplog.records
