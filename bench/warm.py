"""Warm invocations: `handler(event)` for a 20-item list (response cache bypassed) and an item POST against
the moto server, next to a bare Mangum + FastAPI handler returning static JSON, in interleaved rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from bench._common import describe, local_stack, tally_dynamodb, uncached
from infra.events import LambdaContext, api_gateway_event
from tests.support import Api

ROUNDS = 30
PER_ROUND = 10
WARM_UP = 30


def bare_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    app = FastAPI()

    @app.get("/v1/watchlists")
    def static() -> dict[str, Any]:
        return {"items": [], "next_cursor": None, "total": 0}

    return Mangum(app, lifespan="off")


def main() -> None:
    with local_stack():
        from watchlist_api.handler import handler

        api = Api(handler)
        reader_user, reader = api.new_user()
        for number in range(20):
            api.post("/v1/watchlists/items", token=reader, json={"title": f"Film {number}", "type": "movie"})
        _, writer = api.new_user()  # its own list, so the reader's stays at 20 items
        list_event = api_gateway_event(
            "GET", "/v1/watchlists", headers=[("Authorization", f"Bearer {reader}")], query="limit=20"
        )
        post_body = b'{"title": "Benchmark", "type": "show"}'
        post_headers = [("Authorization", f"Bearer {writer}"), ("Content-Type", "application/json")]
        bare = bare_handler()

        def nothing() -> None:
            return None

        # (prepare, call): prepare runs untimed before each call; the list must miss the response cache.
        cases: dict[str, tuple[Callable[[], None], Callable[[], dict[str, Any]]]] = {
            "GET /v1/watchlists (20 items)": (
                lambda: uncached(reader_user["id"]),
                lambda: handler(list_event, LambdaContext()),
            ),
            "POST /v1/watchlists/items": (
                nothing,
                lambda: handler(
                    api_gateway_event("POST", "/v1/watchlists/items", headers=post_headers, body=post_body),
                    LambdaContext(),
                ),
            ),
            "bare Mangum+FastAPI, static JSON": (nothing, lambda: bare(list_event, LambdaContext())),
        }
        for prepare, call in cases.values():
            for _ in range(WARM_UP):
                prepare()
                assert call()["statusCode"] in (200, 201)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        outside_dynamodb: dict[str, list[float]] = {name: [] for name in cases}
        with tally_dynamodb() as tally:
            for _ in range(ROUNDS):
                for name, (prepare, call) in cases.items():
                    for _ in range(PER_ROUND):
                        prepare()
                        tally.reset()
                        started = time.perf_counter()
                        call()
                        elapsed = time.perf_counter() - started
                        samples[name].append(elapsed * 1000)
                        outside_dynamodb[name].append((elapsed - tally.seconds) * 1000)
        bare_median = describe(samples["bare Mangum+FastAPI, static JSON"])["median"]
        print("handler(event) latency; 'own' excludes the time spent waiting for the moto server")
        print(f"{'case':36} {'median ms':>10} {'p99 ms':>8} {'x bare':>7} {'own median':>11}  n")
        for name, values in samples.items():
            figures = describe(values)
            own = describe(outside_dynamodb[name])["median"]
            ratio = figures["median"] / bare_median
            print(f"{name:36} {figures['median']:10.2f} {figures['p99']:8.2f} {ratio:7.1f} {own:11.2f}  {figures['n']}")


if __name__ == "__main__":
    main()
