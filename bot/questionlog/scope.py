"""What a report covers: the questions of which servers (`Scope`), since when (`since`).

On Discord a report covers what its `Scope` lets the server it is asked in see: its own questions and those asked
outside every home server, never another home server's (whose members were told their own moderators see them).
The operator's command line sees every question.
"""

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_DAYS = 30
MAX_DAYS = 3660


@dataclass(frozen=True)
class Scope:
    """The questions a report covers: all, or all but those asked in `hidden` servers."""

    hidden: tuple[int, ...] = ()

    @classmethod
    def home(cls, guild_id: int | None, homes: Collection[int]) -> "Scope":
        """What the moderators of the home server `guild_id` see: every question but the other home servers'."""
        return cls(tuple(sorted(set(homes) - {guild_id})))

    def sql(self, table: str = "") -> str:
        """A condition on the questions (of `table`, an alias) that keeps those in scope; its parameters are
        `hidden`."""
        column = f"{table}.guild_id" if table else "guild_id"
        if not self.hidden:
            return "1 = 1"
        return f"({column} IS NULL OR {column} NOT IN ({', '.join('?' * len(self.hidden))}))"


EVERYTHING = Scope()


def since(days: int, now: float | None = None) -> float:
    """The start of the last `days` days: midnight (UTC) of the first of them, today being the last."""
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()


def iso(moment: float) -> str:
    """A moment as an ISO date and time (UTC), to the second."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
