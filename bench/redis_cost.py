"""Redis round trips and commands per request (the client's own count of network sends, and INFO commandstats
before and after, summed over every node), DynamoDB requests, and the warm latency of a cached list GET: on a
single redis-server and on a three-primary Redis Cluster, side by side in one run."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import redis
from redis.connection import AbstractConnection, Connection

from bench._common import interleaved, local_stack, print_against_bare, tally_dynamodb, uncached
from bench.warm import bare_handler
from infra.local.events import LambdaContext, api_gateway_event, response_headers
from infra.local.redis_cluster import LocalRedisCluster
from tests.support import Api
from watchlist_core import wiring

ROUNDS = 300
BLOCKS = 10  # the topologies take turns, a block of calls each: one app serves one Redis at a time
CACHED = "cached GET /v1/watchlists"


def command_calls(nodes: list[redis.Redis]) -> Counter[str]:
    calls: Counter[str] = Counter()
    for node in nodes:
        stats: dict[str, Any] = node.info("commandstats")
        calls.update({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})
    return calls


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Each `send_packed_command` is one request written to Redis: a pipeline is one, whatever its size."""
    sends = [0]
    original = Connection.send_packed_command

    def counted(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        sends[0] += 1
        original(self, *args, **kwargs)

    Connection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield sends
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]


class Topology:
    """The API on one kind of Redis: a user with 20 items, and the events to send."""

    def __init__(self, name: str, url: str, nodes: list[redis.Redis]) -> None:
        self.name, self.url, self.nodes = name, url, nodes

    def use(self) -> None:
        os.environ["REDIS_URL"] = self.url
        wiring.reset()

    def prepare(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.use()
        api = Api(handler)
        _, token = api.new_user()
        for number in range(20):
            api.post("/v1/watchlists/items", token=token, json={"title": f"Film {number}", "type": "movie"})
        self.user_id = api.get("/v1/auth/me", token=token).json()["id"]
        auth = [("Authorization", f"Bearer {token}")]
        self.list_event = api_gateway_event("GET", "/v1/watchlists", headers=auth, query="limit=20")
        body = b'{"title": "Benchmark", "type": "show"}'
        headers = [*auth, ("Content-Type", "application/json")]
        self.post_event = api_gateway_event("POST", "/v1/watchlists/items", headers=headers, body=body)


def count_per_request(topology: Topology, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
    topology.use()
    cases: dict[str, tuple[Callable[[], object], dict[str, Any]]] = {
        CACHED: (lambda: None, topology.list_event),
        "uncached GET /v1/watchlists": (lambda: uncached(topology.user_id), topology.list_event),
        "POST /v1/watchlists/items": (lambda: None, topology.post_event),
    }
    for name, (prepare, event) in cases.items():
        handler(event, LambdaContext())
        prepare()
        before = command_calls(topology.nodes)
        with counting_round_trips() as sends, tally_dynamodb() as dynamodb:
            response = handler(event, LambdaContext())
        after = command_calls(topology.nodes)
        commands = ", ".join(f"{cmd} {n}" for cmd, n in sorted((after - before).items()) if cmd != "info")
        ops = ", ".join(f"{op} {n}" for op, n in sorted(dynamodb.operations.items())) or "none"
        x_cache = {k.lower(): v for k, v in response_headers(response)}.get("x-cache", "-")
        print(f"{topology.name:8} {name:28} {x_cache:8} {sends[0]:11} {commands:44} {ops:20}")


def main() -> None:
    with local_stack() as single, LocalRedisCluster(primaries=3) as cluster:
        from watchlist_api.handler import handler

        topologies = [
            Topology("single", single.url, [single.client()]),
            Topology("cluster", cluster.url, [node.admin() for node in cluster.primaries]),
        ]
        for topology in topologies:
            topology.prepare(handler)
        print(f"{'Redis':8} {'request':28} {'x-cache':8} {'round trips':>11} {'Redis commands':44} DynamoDB")
        for topology in topologies:
            count_per_request(topology, handler)

        bare = bare_handler()
        samples: dict[str, list[float]] = {f"{CACHED}, {t.name}": [] for t in topologies}
        for _ in range(BLOCKS):
            for topology in topologies:
                topology.use()
                handler(topology.list_event, LambdaContext())  # the services built again, untimed
                block = interleaved(
                    {
                        f"{CACHED}, {topology.name}": partial(handler, topology.list_event, LambdaContext()),
                        "bare Mangum+FastAPI": partial(bare, topology.list_event, LambdaContext()),
                    },
                    ROUNDS // BLOCKS,
                )
                samples[f"{CACHED}, {topology.name}"] += block[f"{CACHED}, {topology.name}"]
                samples.setdefault("bare Mangum+FastAPI", []).extend(block["bare Mangum+FastAPI"])
        print_against_bare(samples, bare="bare Mangum+FastAPI")
        print("target: a cached authenticated GET makes at most 2 Redis round trips, no DynamoDB request, <= 2x bare;")
        print("        on a cluster as on a single server")


if __name__ == "__main__":
    main()
