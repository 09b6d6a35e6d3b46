"""A circuit breaker, per Lambda instance: after repeated upstream failures, stop calling for a while.

Closed: calls pass. After `failure_threshold` consecutive failures it opens for `open_seconds`, and calls
are refused at once. When that time is over, the next call is a trial: success closes the breaker, a
failure opens it again at once. An upstream that says when to come back (a rate limit) holds it open
until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(
        self, failure_threshold: int, open_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    def seconds_open(self) -> float:
        """0 when a call may go ahead; else how long the breaker stays open."""
        return max(0.0, self._open_until - self._clock())

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = self._clock() + self._open_seconds

    def hold_open(self, seconds: float) -> None:
        self._open_until = max(self._open_until, self._clock() + seconds)
