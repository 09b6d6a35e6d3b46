"""Two API processes (`make dev`) on one DynamoDB and one Redis, as two Lambda instances would be: a single
server, and a cluster named by one node's URL (`make dev REDIS_URL=<cluster node>`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.commands.dev_stack import dev_stack
from infra.local.moto_server import MotoServer
from tests.e2e.test_dev_server import ADMIN
from tests.support import REDIS_TOPOLOGIES, http_request, local_redis

LIMIT = 100


@pytest.fixture(scope="module", params=REDIS_TOPOLOGIES)
def two_instances(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with MotoServer() as moto, local_redis(request.param) as redis:
        env = {
            "DYNAMODB_ENDPOINT_URL": moto.endpoint_url,
            "REDIS_URL": redis.url,
            "RATE_LIMIT_USER": f"{LIMIT}/3600",
            "RATE_LIMIT_ANONYMOUS": "1000/60",
            "RATE_LIMIT_REGISTER": "1000/60",
        }
        with (
            dev_stack(ADMIN["email"], ADMIN["password"], **env) as first,
            dev_stack(ADMIN["email"], ADMIN["password"], **env) as second,
        ):
            yield first.api, second.api


def _token(base: str) -> str:
    email = f"two-{os.urandom(6).hex()}@example.com"
    assert (
        http_request(base, "/v1/auth/register", body={"email": email, "password": "two instances"}, method="POST")[0]
        == 201
    )
    status, _, body = http_request(
        base, "/v1/auth/login", body={"email": email, "password": "two instances"}, method="POST"
    )
    assert status == 200
    return str(json.loads(body)["access_token"])


def test_a_limit_holds_across_instances_under_concurrency(two_instances: tuple[str, str]) -> None:
    token = _token(two_instances[0])
    targets = [two_instances[i % 2] for i in range(2 * LIMIT)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda base: http_request(base, "/v1/auth/me", token)[0], targets))
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == LIMIT


def test_a_write_on_one_instance_invalidates_the_others_cache(two_instances: tuple[str, str]) -> None:
    first, second = two_instances
    token = _token(first)
    assert http_request(second, "/v1/watchlists", token)[1]["x-cache"] == "MISS"
    assert http_request(second, "/v1/watchlists", token)[1]["x-cache"] == "HIT"
    assert http_request(first, "/v1/watchlists", token)[1]["x-cache"] == "HIT"  # one shared cache
    assert http_request(first, "/v1/watchlists/items", token, {"title": "Shared", "type": "movie"}, "POST")[0] == 201
    status, headers, body = http_request(second, "/v1/watchlists", token)
    assert (status, headers["x-cache"]) == (200, "MISS")
    assert [item["title"] for item in json.loads(body)["items"]] == ["Shared"]


def test_a_logout_on_one_instance_revokes_the_token_on_the_other(two_instances: tuple[str, str]) -> None:
    first, second = two_instances
    token = _token(first)
    assert http_request(second, "/v1/auth/me", token)[0] == 200
    assert http_request(first, "/v1/auth/logout", token, method="POST")[0] == 204
    assert http_request(second, "/v1/auth/me", token)[0] == 401
