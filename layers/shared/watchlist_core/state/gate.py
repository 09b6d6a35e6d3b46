"""The per-request Redis round trip: rate limit, revocation check and cache version in one pipeline."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from watchlist_core.ratelimit import RateLimitResult, RatePolicy, Window, decide
from watchlist_core.state.client import KEY_PREFIX, RedisState, user_tag

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


# Since when (Unix time) this Redis has held every revocation: written by the first request that finds it
# missing, so it is missing after Redis lost its data. One key, no expiry.
REMEMBERS_SINCE_KEY = f"{KEY_PREFIX}revocations-since"


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


def cache_version_key(user_id: str) -> str:
    return user_tag(user_id) + "cv"


# A user's cache version is a random label, never an incremented count: when the key is gone (expired after
# an hour without requests, evicted, or Redis emptied) a new label starts, so no entry written under an earlier
# one can ever be read again. Every request keeps it alive.
CACHE_VERSION_SECONDS = 3600


def new_cache_version() -> int:
    return secrets.randbits(62) + 1


def start_cache_version(client: Redis, user_id: str) -> int:
    """A label for a user whose key is missing; of two requests starting one at once, the first set wins."""
    key, fresh = cache_version_key(user_id), new_cache_version()
    if client.set(key, fresh, nx=True, ex=CACHE_VERSION_SECONDS):
        return fresh
    return int(client.get(key) or fresh)


def revoked_key(user_id: str, jti: str) -> str:
    return user_tag(user_id) + "revoked:" + jti


def vouched_key(user_id: str, jti: str) -> str:
    return user_tag(user_id) + "vouched:" + jti


class RequestGate:
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


class RedisRevokedTokens:
    """Revoked access-token ids, kept until the token would have expired anyway."""

    def __init__(self, state: RedisState) -> None:
        self._state = state

    def revoke(self, user_id: str, jti: str, until: datetime) -> bool:
        key = revoked_key(user_id, jti)
        return self._state.run("revoke", lambda client: client.set(key, 1, exat=int(until.timestamp()) + 1)) is not None

    def vouch(self, user_id: str, jti: str, until: datetime) -> None:
        """The token's session was found live: no need to ask DynamoDB again for this token."""
        key = vouched_key(user_id, jti)
        self._state.run("vouch", lambda client: client.set(key, 1, exat=int(until.timestamp()) + 1))
