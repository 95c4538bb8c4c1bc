"""A per-user cooldown for questions: `rate` questions per `per` seconds, with a refund for invalid input."""

import time
from collections import deque
from collections.abc import Callable


class Cooldowns:
    """A sliding window of recent questions per user; a refund takes back the user's latest one."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}

    def take(self, user_id: int) -> float:
        """0 and the question counted if the user may ask now, else the seconds until they may."""
        if self.per <= 0:
            return 0.0
        now = self._clock()
        window = self._asked.setdefault(user_id, deque())
        while window and window[0] <= now - self.per:
            window.popleft()
        if len(window) >= self.rate:
            return window[0] + self.per - now
        window.append(now)
        return 0.0

    def refund(self, user_id: int) -> None:
        """Gives back the user's latest question, which turned out to be invalid."""
        window = self._asked.get(user_id)
        if window:
            window.pop()
