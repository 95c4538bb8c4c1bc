"""The search cooldown: a sliding window of ASK_COOLDOWN_RATE searches per ASK_COOLDOWN_SECONDS, per member and
server."""

from pathlib import Path

from bot.cooldown import Cooldowns
from tests.bot.harness import GUILD_ID, SECOND_GUILD_ID, fake_index_gateway
from tests.bot.questionlog.test_question_log import OFF_TOPIC


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_per_window_then_wait() -> None:
    """Two questions per ten seconds: the third waits until the first leaves the window."""
    clock = Clock()
    cooldowns = Cooldowns(2, 10.0, clock)
    assert cooldowns.take(1) == 0.0
    clock.now += 4
    assert cooldowns.take(1) == 0.0
    assert cooldowns.take(1) == 6.0
    clock.now += 6
    assert cooldowns.take(1) == 0.0


def test_refund_gives_back_one_question() -> None:
    """A refund returns the latest question only, and users do not share a window."""
    cooldowns = Cooldowns(1, 10.0, Clock())
    assert cooldowns.take(1) == 0.0
    assert cooldowns.take(2) == 0.0
    cooldowns.refund(1)
    assert cooldowns.take(1) == 0.0
    assert cooldowns.take(1) > 0 and cooldowns.take(2) > 0
    cooldowns.refund(3)  # nothing to give back: no error


def test_zero_seconds_means_no_cooldown() -> None:
    """ASK_COOLDOWN_SECONDS=0 lets every question through."""
    cooldowns = Cooldowns(1, 0.0, Clock())
    assert all(cooldowns.take(1) == 0.0 for _ in range(5))


def test_one_warning_per_window() -> None:
    """A refused user is warned once; later refusals pass in silence until they may search again."""
    clock = Clock()
    cooldowns = Cooldowns(1, 10.0, clock)
    assert cooldowns.take(1) == 0.0
    assert cooldowns.take(1) > 0 and cooldowns.warn(1)
    clock.now += 5
    assert cooldowns.take(1) > 0 and not cooldowns.warn(1)
    clock.now += 5
    assert cooldowns.take(1) == 0.0
    assert cooldowns.take(1) > 0 and cooldowns.warn(1)  # a new window, a new warning


def test_expired_users_are_forgotten() -> None:
    """Users whose searches have all left the window drop out of the table, however many there were."""
    clock = Clock()
    cooldowns = Cooldowns(1, 10.0, clock)
    for user in range(1000):
        cooldowns.take(user)
    cooldowns.take(5)
    cooldowns.warn(5)
    assert len(cooldowns) == 1000
    clock.now += 10
    assert cooldowns.take(2000) == 0.0
    assert len(cooldowns) == 1


async def test_a_members_cooldown_is_kept_per_server(tmp_path: Path, seeds_copy: Path) -> None:
    """The cooldown counts a member's questions in each server, and in DMs, apart: where Discord sends one server's
    events to one shard, so one process, each window lives in one place, and DMs all go to shard 0."""
    gateway = await fake_index_gateway(tmp_path, seeds_copy, ask_cooldown_rate=1, ask_cooldown_seconds=60)
    gateway.join(SECOND_GUILD_ID)
    try:
        replies = {where: [(await gateway.command("ask", guild_id=where, question=OFF_TOPIC))[-1] for _ in range(2)]
                   for where in (GUILD_ID, SECOND_GUILD_ID, None)}
    finally:
        await gateway.close()
    for first, second in replies.values():
        assert first.kind == "followup" and "does not cover" in first.message["content"]
        assert "try again in" in second.message["content"]
