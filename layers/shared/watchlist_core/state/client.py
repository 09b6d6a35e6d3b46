"""The Redis connection, a standalone server or a cluster, and what happens when Redis or one of its shards is down
or slow: callers get None, never an error.

Which of the two `REDIS_URL` names is found out on first use (`CLUSTER INFO` answers on a cluster node and is
refused by a standalone server), so there is nothing more to configure: a standalone server gets a plain client;
any node or the configuration endpoint of a cluster gets redis-py's cluster client, which follows MOVED and ASK
redirects and reloads its slot map. Every operation names a key, and everything it touches shares that key's hash
slot (state/keys.py): on a cluster, a pipeline goes to one node in one round trip.

After a failure the node that failed is left alone for a short while, so a dead Redis or shard costs one timeout per
few seconds, not one per request, and requests whose keys live on the other shards keep theirs. Each failure is
logged and counted as a CloudWatch metric. Connect and command timeouts as configured, and no retries: a slow Redis
must not multiply the wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from watchlist_core import tracing
from watchlist_core.observability import count, logger
from watchlist_core.pause import Pause

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

T = TypeVar("T")
# Where a standalone Redis, and a Redis not reached yet, is paused: it has no nodes to tell apart.
WHOLE_REDIS = "redis"


class Slot:
    """What an operation works with: the commands of one hash slot, on the node that serves it."""

    def __init__(self, commands: Redis, node: str) -> None:
        self.commands = commands  # for single commands
        self.node = node  # the node's name

    def pipeline(self) -> Pipeline:
        """For commands sent together, in one round trip; run them with `execute`."""
        return self.commands.pipeline(transaction=False)

    def execute(self, pipeline: Pipeline) -> list[Any]:
        return pipeline.execute()


class Topology(Protocol):
    def slot(self, key: str) -> Slot:
        """`key`'s slot."""
        ...

    def reload(self, failed_node: str) -> None:
        """Asks Redis again where the slots are, `failed_node` last (a failover may have moved its slots)."""
        ...

    def ping(self) -> bool:
        """Every primary answers."""
        ...


class _Standalone:
    """One server: every slot is the whole server."""

    def __init__(self, client: Redis) -> None:
        self._slot = Slot(client, WHOLE_REDIS)

    def slot(self, key: str) -> Slot:
        return self._slot

    def reload(self, failed_node: str) -> None:
        """A single server has no slot map."""

    def ping(self) -> bool:
        return bool(self._slot.commands.ping())


def discover(url: str | None, timeout_seconds: float) -> Topology:
    """The Redis at `url`, standalone or cluster; an in-process Redis (fakeredis) when no URL is configured."""
    if url is None:
        import fakeredis  # local development only: a dev dependency, never deployed

        return _Standalone(fakeredis.FakeRedis())
    # redis-py imports its cluster client with the package (redis/__init__.py): finding a cluster costs no import.
    from redis import Redis, RedisCluster
    from redis.backoff import NoBackoff
    from redis.exceptions import ResponseError
    from redis.retry import Retry

    timeouts = {"socket_connect_timeout": timeout_seconds, "socket_timeout": timeout_seconds}
    probe = Redis.from_url(url, retry=Retry(NoBackoff(), 0), health_check_interval=30, **timeouts)
    try:
        probe.execute_command("CLUSTER INFO")
    except ResponseError:  # "This instance has cluster support disabled"
        return _Standalone(probe)
    probe.close()
    from watchlist_core.state.cluster import Cluster

    cluster = RedisCluster.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        # A cold start while one shard is down still serves the others.
        require_full_coverage=False,
        # The URL stays a way in: a configuration endpoint's name outlives the nodes it resolves to today.
        dynamic_startup_nodes=False,
        **timeouts,
    )
    logger.info("redis: a cluster", extra={"primaries": len(cluster.get_primaries())})
    return Cluster(cluster)


class RedisState:
    def __init__(
        self,
        url: str | Callable[[], str | None] | None,
        *,
        timeout_seconds: float,
        pause_after_failure_seconds: float,
    ) -> None:
        """`url`, or what returns it on first use (a secret's loader): a failure to fetch it counts as Redis being
        unavailable, and is tried again once the pause is over."""
        self._url = url
        self._timeout_seconds = timeout_seconds
        self._topology: Topology | None = None
        self._pause_seconds = pause_after_failure_seconds
        self._pauses: dict[str, Pause] = {}
        self._failed_nodes: set[str] = set()

    def _pause(self, node: str) -> Pause:
        pause = self._pauses.get(node)
        if pause is None:  # not setdefault: that would build a Pause (and its lock) on every call
            pause = self._pauses[node] = Pause(self._pause_seconds)
        return pause

    def run(self, purpose: str, key: str, operation: Callable[[Slot], T]) -> T | None:
        """`operation` on `key`'s slot, or None when the node serving it is unavailable (now, or failed a moment
        ago). Every key the operation uses must share `key`'s hash tag."""
        node = WHOLE_REDIS
        try:
            if self._pause(node).active:
                return None
            topology = self._reach()
            slot = topology.slot(key)
            node = slot.node
            if self._pause(node).active:
                return None
            if node in self._failed_nodes:  # its pause is over: first ask where its slots are now
                self._failed_nodes.discard(node)
                topology.reload(node)
                slot = topology.slot(key)
                node = slot.node
            with tracing.span(f"redis {purpose}", **{"db.system": "redis", "server.address": node}):
                return operation(slot)
        except Exception as error:  # noqa: BLE001 (any Redis failure degrades to "unavailable")
            self._pause(node).start()
            self._failed_nodes.add(node)
            logger.warning(
                "redis unavailable; continuing without it",
                extra={"purpose": purpose, "node": node, "error_class": type(error).__name__},
            )
            count("RedisUnavailable", purpose=purpose)
            return None

    def ping(self) -> bool:
        """For the readiness check: straight to Redis (every primary of a cluster), raising on failure."""
        return self._reach().ping()

    def _reach(self) -> Topology:
        if self._topology is None:
            url = self._url() if callable(self._url) else self._url
            self._topology = discover(url, self._timeout_seconds)
        return self._topology
