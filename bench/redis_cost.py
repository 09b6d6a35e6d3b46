"""Redis commands and round trips per request (INFO commandstats before and after, and the client's own
count of network sends), DynamoDB requests, and the warm latency of a cached list GET."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.connection import AbstractConnection, Connection

from bench._common import interleaved, local_stack, print_against_bare, tally_dynamodb
from bench.warm import bare_handler
from infra.local.events import LambdaContext, api_gateway_event, response_headers
from tests.support import Api

ROUNDS = 300


def command_calls(client: redis.Redis) -> Counter[str]:
    stats: dict[str, Any] = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})


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


def main() -> None:
    with local_stack() as server:
        from watchlist_api.handler import handler

        observer = redis.Redis.from_url(server.url)
        api = Api(handler)
        _, token = api.new_user()
        for number in range(20):
            api.post("/v1/watchlists/items", token=token, json={"title": f"Film {number}", "type": "movie"})
        auth = [("Authorization", f"Bearer {token}")]
        list_event = api_gateway_event("GET", "/v1/watchlists", headers=auth, query="limit=20")
        body = b'{"title": "Benchmark", "type": "show"}'
        post_event = api_gateway_event(
            "POST", "/v1/watchlists/items", headers=[*auth, ("Content-Type", "application/json")], body=body
        )
        user_id = api.get("/v1/auth/me", token=token).json()["id"]

        def another_instance_wrote() -> None:
            observer.incr(f"wl:{{u:{user_id}}}:cv")  # as a write elsewhere would: the next read misses

        cases: dict[str, tuple[Callable[[], object], Callable[[], dict[str, Any]]]] = {
            "cached GET /v1/watchlists": (lambda: None, lambda: handler(list_event, LambdaContext())),
            "uncached GET /v1/watchlists": (another_instance_wrote, lambda: handler(list_event, LambdaContext())),
            "POST /v1/watchlists/items": (lambda: None, lambda: handler(post_event, LambdaContext())),
        }
        print(f"{'request':30} {'x-cache':8} {'round trips':>11} {'Redis commands (INFO commandstats)':44} DynamoDB")
        for name, (prepare, call) in cases.items():
            call()
            prepare()
            before = command_calls(observer)
            with counting_round_trips() as sends, tally_dynamodb() as dynamodb:
                response = call()
            after = command_calls(observer)
            commands = ", ".join(f"{cmd} {n}" for cmd, n in sorted((after - before).items()) if cmd != "info")
            ops = ", ".join(f"{op} {n}" for op, n in sorted(dynamodb.operations.items())) or "none"
            x_cache = {k.lower(): v for k, v in response_headers(response)}.get("x-cache", "-")
            print(f"{name:30} {x_cache:8} {sends[0]:11} {commands:44} {ops:20}")

        bare = bare_handler()
        calls: dict[str, Callable[[], object]] = {
            "cached GET /v1/watchlists": cases["cached GET /v1/watchlists"][1],
            "bare Mangum+FastAPI": lambda: bare(list_event, LambdaContext()),
        }
        print_against_bare(interleaved(calls, ROUNDS), bare="bare Mangum+FastAPI")
        print("target: a cached authenticated GET makes at most 2 Redis round trips, no DynamoDB request, <= 2x bare")


if __name__ == "__main__":
    main()
