"""A request's admission, its one Redis round trip: the rate-limit count and, for a signed-in caller, the token's
revocation and the caller's cache version, in one pipeline (the rules: services/admission.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchlist_core.ratelimit import RateLimitResult, RatePolicy, Window, decide
from watchlist_core.state.cache import CACHE_VERSION_SECONDS, cache_version_key, start_cache_version
from watchlist_core.state.client import KEY_PREFIX, RedisState, user_tag
from watchlist_core.state.revocations import REMEMBERS_SINCE_KEY, revoked_key, vouched_key

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


@dataclass(frozen=True)
class Admission:
    """What Redis said about a request. None means Redis could not say (it is unavailable).

    `remembers_since`: tokens issued before it may have been revoked in a Redis that lost its data, unless
    `vouched` (their session was found live in DynamoDB since).
    """

    limit: RateLimitResult | None
    revoked: bool | None = None
    cache_version: int | None = None
    remembers_since: float | None = None
    vouched: bool | None = None


def _counter_keys(subject_tag: str, policy: RatePolicy, window: Window) -> tuple[str, str]:
    base = f"{subject_tag}rl:{policy.name}:"
    return base + str(window.index), base + str(window.index - 1)


class RedisAdmission:
    """Admission's Redis side: what the services/admission.py rules decide on, read in one round trip."""

    def __init__(self, state: RedisState) -> None:
        self._state = state

    def admit_user(self, user_id: str, jti: str, policy: RatePolicy) -> Admission:
        """One round trip: count the request, check the token's revocation, read the cache version."""
        window = Window.at(time.time(), policy.window_seconds)
        current_key, previous_key = _counter_keys(user_tag(user_id), policy, window)

        def pipeline(client: Redis) -> Admission:
            pipe = client.pipeline(transaction=False)
            _count(pipe, current_key, previous_key, policy)
            pipe.exists(revoked_key(user_id, jti))
            pipe.getex(cache_version_key(user_id), ex=CACHE_VERSION_SECONDS)
            pipe.get(REMEMBERS_SINCE_KEY)
            pipe.exists(vouched_key(user_id, jti))
            _, current, previous, revoked, version, since, vouched = pipe.execute()
            if version is None:
                version = start_cache_version(client, user_id)
            if since is None:  # a new or emptied Redis: it remembers revocations from now on
                since = time.time()
                client.set(REMEMBERS_SINCE_KEY, since, nx=True)
            limit = self._decide(client, policy, window, current_key, current, previous)
            return Admission(limit, bool(revoked), int(version or 0), float(since), bool(vouched))

        return self._state.run("admit_user", pipeline) or Admission(None)

    def admit_anonymous(self, client_ip: str, policy: RatePolicy) -> Admission:
        window = Window.at(time.time(), policy.window_seconds)
        current_key, previous_key = _counter_keys(f"{KEY_PREFIX}{{ip:{client_ip}}}:", policy, window)

        def pipeline(client: Redis) -> Admission:
            pipe = client.pipeline(transaction=False)
            _count(pipe, current_key, previous_key, policy)
            _, current, previous = pipe.execute()
            return Admission(self._decide(client, policy, window, current_key, current, previous))

        return self._state.run("admit_anonymous", pipeline) or Admission(None)

    @staticmethod
    def _decide(
        client: Redis, policy: RatePolicy, window: Window, current_key: str, current: int, previous: bytes | None
    ) -> RateLimitResult:
        result = decide(policy, window, int(current), int(previous or 0))
        if not result.allowed:
            client.decr(current_key)  # a refused request does not use up quota
        return result


def _count(pipe: Pipeline, current_key: str, previous_key: str, policy: RatePolicy) -> None:
    # SET NX with the expiry first: the counter never exists without one, even if INCR's reply is lost.
    pipe.set(current_key, 0, ex=policy.window_seconds * 2, nx=True)
    pipe.incr(current_key)
    pipe.get(previous_key)
