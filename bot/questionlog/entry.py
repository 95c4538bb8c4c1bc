"""One question as it was asked and answered, as the bot hands it to the question log."""

from dataclasses import dataclass

import numpy as np

OUTCOMES = ("answered", "not_answered", "off_topic", "refused")
TERMINAL = "terminal"  # `bot ask --log`: the operator's own questions, kept with their words like a home server's


@dataclass(frozen=True)
class Entry:
    """One question as it was asked and answered. What of it is stored is decided by the log
    (`QuestionLog._insert`)."""

    id: int  # the row's key, from `row_key`
    asked_at: float
    guild_id: int | None
    channel_id: int | None
    user_id: int
    via: str
    question: str
    private: bool
    outcome: str  # one of OUTCOMES
    quoted: tuple[tuple[str, str], ...] = ()  # (chunk id, source id) of each passage shown, in order
    missing: tuple[str, ...] = ()
    generation: int | None = None
    latency_ms: float | None = None
    vector: np.ndarray | None = None
    model: str | None = None
    message_id: int | None = None  # the mention that asked, or the message that answered /ask
