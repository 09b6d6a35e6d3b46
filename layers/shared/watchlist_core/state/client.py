"""The Redis connection, and what happens when Redis is down or slow: callers get None, never an error.

After a failure the client stops calling Redis for a short while, so a dead Redis costs one timeout
per few seconds, not one per request; each failure is logged and counted as a CloudWatch metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from watchlist_core.observability import count, logger
from watchlist_core.pause import Pause

if TYPE_CHECKING:
    from redis import Redis

T = TypeVar("T")
KEY_PREFIX = "wl:"


def user_tag(user_id: str) -> str:
    return f"{KEY_PREFIX}{{u:{user_id}}}:"


def connect(url: str | None, timeout_seconds: float) -> Redis:
    """A client for `url`, or an in-process Redis (fakeredis) when no URL is configured."""
    if url is None:
        import fakeredis  # local development only: a dev dependency, never deployed

        return fakeredis.FakeRedis()
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),  # no retries: a slow Redis must not multiply the wait
        health_check_interval=30,
    )


class RedisState:
    def __init__(self, client: Redis, *, pause_after_failure_seconds: float, embedded: bool) -> None:
        self.client = client
        self.embedded = embedded
        self._pause = Pause(pause_after_failure_seconds)

    def run(self, purpose: str, operation: Callable[[Redis], T]) -> T | None:
        """`operation(client)`, or None when Redis is unavailable (now, or failed a moment ago)."""
        if self._pause.active:
            return None
        try:
            return operation(self.client)
        except Exception as error:  # noqa: BLE001 (any Redis failure degrades to "unavailable")
            self._pause.start()
            logger.warning(
                "redis unavailable; continuing without it",
                extra={"purpose": purpose, "error_class": type(error).__name__},
            )
            count("RedisUnavailable", purpose=purpose)
            return None

    def ping(self) -> Any:
        """For the readiness check: straight to Redis, raising on failure."""
        return self.client.ping()
