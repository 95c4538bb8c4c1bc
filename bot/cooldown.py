"""A cooldown for searches: `rate` per `per` seconds per member in one place, with a refund for invalid input.

One cooldown covers every search a member sets off in a server (or in DMs): /ask, a mention, and an answer's
buttons (paging, Context, votes). It is kept per server because that is what sharding can keep exact: Discord sends
all of a server's events to one shard, so one process, and all DMs to shard 0 (bot/client.py). A member asking in
two servers has a window in each.
"""

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

Who = tuple[int | None, int]  # a member in one place: (server id, or None for DMs; user id)


@dataclass
class _Window:
    asked: deque[float] = field(default_factory=deque)
    warned_until: float = 0.0  # refusals before this time are not told again


class Cooldowns:
    """A sliding window of recent searches per member and place (`Who`); those with nothing left in their window
    are forgotten."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self._clock = clock
        self._users: dict[Hashable, _Window] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        """How many users the table holds."""
        return len(self._users)

    def take(self, user_id: Hashable) -> float:
        """0 and the search counted if the member may search now, else the seconds until they may."""
        if self.per <= 0:
            return 0.0
        now = self._clock()
        self._forget_expired(now)
        window = self._users.setdefault(user_id, _Window())
        while window.asked and window.asked[0] <= now - self.per:
            window.asked.popleft()
        if len(window.asked) >= self.rate:
            return window.asked[0] + self.per - now
        window.asked.append(now)
        return 0.0

    def warn(self, user_id: Hashable) -> bool:
        """Whether to tell a refused user to slow down: once, until they may search again; then silence."""
        now = self._clock()
        window = self._users.setdefault(user_id, _Window())
        if now < window.warned_until:
            return False
        window.warned_until = window.asked[0] + self.per if window.asked else now
        return True

    def refund(self, user_id: Hashable) -> None:
        """Gives back the user's latest search, which turned out to be invalid."""
        window = self._users.get(user_id)
        if window and window.asked:
            window.asked.pop()

    def _forget_expired(self, now: float) -> None:
        """Drops the users whose every search has left the window; runs at most once per window."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.per
        self._users = {user_id: window for user_id, window in self._users.items()
                       if (window.asked and window.asked[-1] > now - self.per) or window.warned_until > now}
