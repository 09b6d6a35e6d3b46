"""A request's admission, its one Redis round trip: the rate-limit count and, for a signed-in caller, whether the
token's session has ended and the caller's cache version, in one pipeline on one hash slot (the rules:
services/admission.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def _counter_keys(subject: str, policy: RatePolicy, window: Window) -> tuple[str, str]:
    """The current and the previous window's counters of `subject` (a user's or an address's key prefix)."""
    return keys.rate_counter(subject, policy.name, window.index), keys.rate_counter(
        subject, policy.name, window.index - 1
    )


class RedisAdmission:
    """Admission's Redis side: what the services/admission.py rules decide on, read in one round trip."""

    def __init__(self, state: RedisState) -> None:
        self._state = state

    def admit_user(self, user_id: str, session_id: str, policy: RatePolicy) -> Admission:
        """One round trip: count the request, check the token's session, read the cache version."""
        window = Window.at(time.time(), policy.window_seconds)
        current_key, previous_key = _counter_keys(keys.user(user_id), policy, window)
        since_key = keys.revocations_since(user_id)

        def pipeline(slot: Slot) -> Admission:
            pipe = slot.pipeline()
            _count(pipe, current_key, previous_key, policy)
            pipe.exists(keys.session_ended(user_id, session_id))
            pipe.getex(keys.cache_version(user_id), ex=CACHE_VERSION_SECONDS)
            pipe.get(since_key)
            pipe.exists(keys.session_vouched(user_id, session_id))
            _, current, previous, ended, version, since, vouched = slot.execute(pipe)
            if version is None:
                version = start_cache_version(slot, user_id)
            if since is None:  # a new partition, or its shard lost its data: it remembers session ends from now on
                since = time.time()
                slot.commands.set(since_key, since, nx=True)
            limit = _decide(slot, policy, window, current_key, current, previous)
            return Admission(limit, bool(ended), int(version or 0), float(since), bool(vouched))

        return self._state.run("admit_user", current_key, pipeline) or Admission(None)

    def admit_anonymous(self, client_ip: str, policy: RatePolicy) -> Admission:
        window = Window.at(time.time(), policy.window_seconds)
        current_key, previous_key = _counter_keys(keys.client_address(client_ip), policy, window)

        def pipeline(slot: Slot) -> Admission:
            pipe = slot.pipeline()
            _count(pipe, current_key, previous_key, policy)
            _, current, previous = slot.execute(pipe)
            return Admission(_decide(slot, policy, window, current_key, current, previous))

        return self._state.run("admit_anonymous", current_key, pipeline) or Admission(None)


def _count(pipe: Pipeline, current_key: str, previous_key: str, policy: RatePolicy) -> None:
    # SET NX with the expiry first: the counter never exists without one, even if INCR's reply is lost.
    pipe.set(current_key, 0, ex=policy.window_seconds * 2, nx=True)
    pipe.incr(current_key)
    pipe.get(previous_key)


def _decide(
    slot: Slot, policy: RatePolicy, window: Window, current_key: str, current: int, previous: bytes | None
) -> RateLimitResult:
    result = decide(policy, window, int(current), int(previous or 0))
    if not result.allowed:
        slot.commands.decr(current_key)  # a refused request does not use up quota
    return result
