"""What is and is not a question to the bot, and the cooldown every button of an answer shares, through the real
CommandTree, views and event handlers over a fake-embedder index."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.bot.harness import (
    BOT_ID,
    EPHEMERAL,
    THREAD_ID,
    Gateway,
    bot_mention,
    fake_index_gateway,
)
from tests.bot.questionlog.test_question_log import answerable


@pytest_asyncio.fixture(loop_scope="function")
async def gateway(tmp_path: Path, seeds_copy: Path) -> AsyncIterator[Gateway]:
    """The bot over a fake-embedder index, one search per member per minute."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, ask_cooldown_rate=1, ask_cooldown_seconds=60)
    yield gateway
    await gateway.close()


async def test_a_reply_to_the_bot_is_no_question(gateway: Gateway) -> None:
    """A reply to one of the bot's messages, which Discord sends with the bot among its mentions (the default
    reply-ping), is not taken for a question; the same words with the bot's mention typed in are answered."""
    answer = await gateway.say(f"<@{BOT_ID}> {answerable(gateway)}", mentions=[bot_mention()])
    assert [r.kind for r in answer] == ["send"]
    reply = gateway.message("Thanks, that helps a lot with my homework!", mentions=[bot_mention()], type=19,
                            message_reference={"message_id": answer[0].response["id"], "channel_id": str(THREAD_ID)})
    assert await gateway.feed(gateway.bot._connection.parse_message_create, reply) == []


async def test_context_and_vote_buttons_share_the_members_cooldown(gateway: Gateway) -> None:
    """Context and vote buttons count against the presser's search window, as /ask and paging do: once it is
    spent, a press is told to wait, privately, and does nothing else."""
    answer = (await gateway.command("ask", question=answerable(gateway)))[-1]
    for label in ("Context 1", "Helpful"):
        pressed = await gateway.press(answer, label)
        assert [r.kind for r in pressed] == ["reply"], label
        said = pressed[0].message
        assert said["flags"] & EPHEMERAL and "try again in" in said["content"], (label, said)
    gateway.bot.cooldowns.per = 0  # the window over: the buttons work
    assert "Context of" in (await gateway.press(answer, "Context 1"))[0].message["content"]
