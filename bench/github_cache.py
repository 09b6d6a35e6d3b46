"""The GitHub lookup: warm handler latency of a cache hit, of a miss answered by a loopback GitHub stub,
and of a 304 revalidation, against the bare handler; on a real Redis, 300 interleaved calls each."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import redis

from bench._common import interleaved, local_stack, print_against_bare
from bench.redis_cost import counting_round_trips
from bench.warm import bare_handler
from infra.local.events import LambdaContext, api_gateway_event, response_headers
from infra.local.github_stub import GitHubStub
from tests.support import Api
from watchlist_core import wiring
from watchlist_core.observability import logger

ROUNDS = 300


def main() -> None:
    logger.setLevel("WARNING")
    with local_stack() as redis_server, GitHubStub() as github:
        observer = redis.Redis.from_url(redis_server.url)
        os.environ["GITHUB_API_URL"] = github.url
        os.environ["RATE_LIMIT_EXTERNAL"] = "1000000/60"
        wiring.reset()
        from watchlist_api.handler import handler

        api = Api(handler)
        _, token = api.new_user()
        auth = [("Authorization", f"Bearer {token}")]
        github.add_user("octocat", name="The Octocat")

        def lookup(login: str) -> dict[str, Any]:
            event = api_gateway_event("GET", f"/v1/external/github/users/{login}", headers=auth)
            return handler(event, LambdaContext())

        def miss() -> dict[str, Any]:
            login = f"u-{uuid.uuid4().hex[:12]}"
            github.add_user(login)
            return lookup(login)

        def revalidated() -> dict[str, Any]:
            observer.eval(  # end the entry's freshness, keep its ETag: the next lookup revalidates
                "local v = cjson.decode(redis.call('GET', KEYS[1])); v['fresh_until'] = 0; "
                "redis.call('SET', KEYS[1], cjson.encode(v), 'KEEPTTL')",
                1,
                "wl:{gh:octocat}:user",
            )
            return lookup("octocat")

        lookup("octocat")
        bare = bare_handler()
        bare_event = api_gateway_event("GET", "/v1/watchlists")
        cases: dict[str, Callable[[], dict[str, Any]]] = {
            "cache HIT": lambda: lookup("octocat"),
            "MISS (GitHub stub, 200)": miss,
            "revalidated (GitHub stub, 304)": revalidated,
            "bare Mangum+FastAPI": lambda: bare(bare_event, LambdaContext()),
        }
        for name, call in cases.items():
            headers = {k.lower(): v for k, v in response_headers(call())}
            print(f"{name:32} X-Cache {headers.get('x-cache', '-')}")
        with counting_round_trips() as sends:
            lookup("octocat")
        print(f"Redis round trips of a cache HIT: {sends[0]}")

        print_against_bare(interleaved(dict(cases), ROUNDS), bare="bare Mangum+FastAPI")


if __name__ == "__main__":
    main()
