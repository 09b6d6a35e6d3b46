"""Sliding-window-counter rate limiting: the decision, as a pure function of two window counts.

The count of the current fixed window plus the previous window's count weighted by how much of it
still overlaps the sliding window. Two small counters per client, no boundary bursts (a fixed window
lets 2x the quota through around a window edge), and exact while the previous window is empty.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_POLICY = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class RatePolicy:
    """`quota` requests per `window_seconds`, named as in the RateLimit-Policy header."""

    name: str
    quota: int
    window_seconds: int

    @classmethod
    def parse(cls, name: str, spec: str) -> RatePolicy:
        """From configuration: "100/60" is 100 requests a minute."""
        match = _POLICY.match(spec)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise ValueError(f"rate limit {name!r} must look like '100/60' (requests/seconds), not {spec!r}")
        return cls(name, int(match[1]), int(match[2]))


@dataclass(frozen=True)
class RateLimitResult:
    policy: RatePolicy
    allowed: bool
    remaining: int
    reset_seconds: int
    retry_after_seconds: int


@dataclass(frozen=True)
class Window:
    index: int
    elapsed_fraction: float

    @classmethod
    def at(cls, now: float, window_seconds: int) -> Window:
        return cls(int(now // window_seconds), (now % window_seconds) / window_seconds)


def decide(policy: RatePolicy, window: Window, current: int, previous: int) -> RateLimitResult:
    """`current` counts this request already (the counter was incremented before deciding)."""
    weighted = previous * (1 - window.elapsed_fraction) + current
    reset = max(1, math.ceil(policy.window_seconds * (1 - window.elapsed_fraction)))
    if weighted <= policy.quota:
        remaining = max(0, math.floor(policy.quota - weighted))
        return RateLimitResult(policy, True, remaining, reset, 0)
    if current > policy.quota:
        retry_after = reset  # this window alone is full: wait for the next one
    else:
        # Wait until the previous window's weight has decayed enough to leave room for one more.
        room_at = 1 - (policy.quota - current) / previous
        retry_after = max(1, math.ceil(policy.window_seconds * (room_at - window.elapsed_fraction)))
    return RateLimitResult(policy, False, 0, reset, retry_after)
