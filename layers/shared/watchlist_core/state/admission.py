"""A request's admission, its one Redis round trip: the rate-limit count and, for a signed-in caller, whether the
token's session has ended and the caller's cache version, in one pipeline on one hash slot (the rules:
services/admission.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from watchlist_core.ratelimit import RateLimitResult, RatePolicy, Window, decide
from watchlist_core.state import keys
from watchlist_core.state.cache import CACHE_VERSION_SECONDS, start_cache_version
from watchlist_core.state.client import RedisState, Slot

if TYPE_CHECKING:
    from redis.client import Pipeline


@dataclass(frozen=True)
class Admission:
    """What Redis said about a request. None means Redis could not say (it, or the shard holding the caller's
    keys, is unavailable).

    `remembers_since`: sessions ended before it may be forgotten (the shard holding the caller's partition lost its
    data), unless the session is `vouched` (found live in DynamoDB since).
    """

    limit: RateLimitResult | None
    session_ended: bool | None = None
    cache_version: int | None = None
    remembers_since: float | None = None
    vouched: bool | None = None


class RedisAdmission:
    """Admission's Redis side: what the services/admission.py rules decide on, read in one round trip."""

    def __init__(self, state: RedisState) -> None:
        self._state = state

    def admit_user(self, user_id: str, session_id: str, policies: Sequence[RatePolicy]) -> Admission:
        """One round trip: count the request against each policy, check the token's session, read the cache
        version."""
        now = time.time()
        counters = [_Counter.of(keys.user(user_id), policy, now) for policy in policies]
        since_key = keys.revocations_since(user_id)

        def pipeline(slot: Slot) -> Admission:
            pipe = slot.pipeline()
            for counter in counters:
                counter.count(pipe)
            pipe.exists(keys.session_ended(user_id, session_id))
            pipe.getex(keys.cache_version(user_id), ex=CACHE_VERSION_SECONDS)
            pipe.get(since_key)
            pipe.exists(keys.session_vouched(user_id, session_id))
            replies = slot.execute(pipe)
            ended, version, since, vouched = replies[len(counters) * _Counter.REPLIES :]
            if version is None:
                version = start_cache_version(slot, user_id)
            if since is None:  # a new partition, or its shard lost its data: it remembers session ends from now on
                since = time.time()
                slot.commands.set(since_key, since, nx=True)
            limit = _decide(slot, counters, replies)
            return Admission(limit, bool(ended), int(version or 0), float(since), bool(vouched))

        return self._state.run("admit_user", counters[0].current_key, pipeline) or Admission(None)

    def admit_counted(self, subject: str, policy: RatePolicy) -> Admission:
        """Count a request against `subject`'s (a key prefix's) `policy` only."""
        counter = _Counter.of(subject, policy, time.time())

        def pipeline(slot: Slot) -> Admission:
            pipe = slot.pipeline()
            counter.count(pipe)
            return Admission(_decide(slot, [counter], slot.execute(pipe)))

        return self._state.run("admit_counted", counter.current_key, pipeline) or Admission(None)


@dataclass(frozen=True)
class _Counter:
    """One policy's two window counters of one subject (a user's, a session's or an address's key prefix)."""

    REPLIES: ClassVar[int] = 3  # what `count` adds to a pipeline's replies

    policy: RatePolicy
    window: Window
    current_key: str
    previous_key: str

    @classmethod
    def of(cls, subject: str, policy: RatePolicy, now: float) -> _Counter:
        window = Window.at(now, policy.window_seconds)
        return cls(
            policy,
            window,
            keys.rate_counter(subject, policy.name, window.index),
            keys.rate_counter(subject, policy.name, window.index - 1),
        )

    def count(self, pipe: Pipeline) -> None:
        """SET NX with the expiry first (the counter never exists without one, even if INCR's reply is lost), INCR,
        the previous window's count."""
        pipe.set(self.current_key, 0, ex=self.policy.window_seconds * 2, nx=True)
        pipe.incr(self.current_key)
        pipe.get(self.previous_key)

    def result(self, replies: Sequence[Any]) -> RateLimitResult:
        """The decision on `count`'s replies."""
        _, current, previous = replies
        return decide(self.policy, self.window, int(current), int(previous or 0))


def _decide(slot: Slot, counters: Sequence[_Counter], replies: Sequence[Any]) -> RateLimitResult:
    """The first policy refusing the request, else the first policy's result (`replies`: the pipeline's, the
    counters' first). A refused request uses up no quota of any policy."""
    size = _Counter.REPLIES
    results = [counter.result(replies[n * size : (n + 1) * size]) for n, counter in enumerate(counters)]
    refused = [result for result in results if not result.allowed]
    if refused:
        pipe = slot.pipeline()
        for counter in counters:
            pipe.decr(counter.current_key)
        slot.execute(pipe)
        return refused[0]
    return results[0]
