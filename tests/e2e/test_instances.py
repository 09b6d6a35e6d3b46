"""`INSTANCES=4 make dev`: four Lambda instances at once behind the local gateway, each one invocation at a time.
The races a single instance would run in sequence, run for real: the guarantees hold under concurrency."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.commands.dev_stack import dev_stack
from tests.support import http_request

ADMIN = ("instances-admin@example.com", "instances admin password")
INSTANCES = 4
LIMIT = 60


@pytest.fixture(scope="module")
def four_instances() -> Iterator[str]:
    limits = {
        "RATE_LIMIT_USER": f"{LIMIT}/3600",
        "RATE_LIMIT_ANONYMOUS": "10000/60",
        "RATE_LIMIT_REGISTER": "10000/60",
        "RATE_LIMIT_LOGIN": "10000/60",
    }
    with dev_stack(*ADMIN, INSTANCES=str(INSTANCES), **limits) as stack:
        yield stack.api


def _all_at_once(calls: list[Any]) -> list[tuple[int, dict[str, str], bytes]]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _new_user(base: str) -> tuple[str, str, dict[str, Any]]:
    email = f"inst-{os.urandom(6).hex()}@example.com"
    body = {"email": email, "password": "four instances"}
    status, _, user = http_request(base, "/v1/auth/register", body=body, method="POST")
    assert status == 201
    status, _, tokens = http_request(base, "/v1/auth/login", body=body, method="POST")
    assert status == 200
    return email, json.loads(tokens)["access_token"], json.loads(tokens) | {"user": json.loads(user)}


def test_requests_are_spread_over_the_instances(four_instances: str) -> None:
    answers = _all_at_once([lambda: http_request(four_instances, "/v1/health/detailed") for _ in range(24)])
    assert {headers["x-local-instance"] for _, headers, _ in answers} == {"1", "2", "3", "4"}


def test_one_of_concurrent_registrations_of_an_address_wins(four_instances: str) -> None:
    body = {"email": f"race-{os.urandom(6).hex()}@example.com", "password": "four instances"}
    answers = _all_at_once([lambda: http_request(four_instances, "/v1/auth/register", body=body, method="POST")] * 8)
    assert sorted(status for status, _, _ in answers) == [201] + [409] * 7


def test_one_of_twenty_patches_with_one_if_match_wins(four_instances: str) -> None:
    _, token, _ = _new_user(four_instances)
    status, headers, _ = http_request(
        four_instances, "/v1/watchlists/items", token, {"title": "A", "type": "movie"}, "POST"
    )
    assert status == 201
    path = headers["location"]

    def patch(n: int) -> Any:
        def call() -> tuple[int, dict[str, str], bytes]:
            request_headers = {"If-Match": headers["etag"]}
            return http_request(four_instances, path, token, {"rating": n % 10 + 1}, "PATCH", request_headers)

        return call

    answers = _all_at_once([patch(n) for n in range(20)])
    assert sorted(status for status, _, _ in answers) == [200] + [412] * 19


def test_the_rate_limit_is_exact_under_concurrency(four_instances: str) -> None:
    _, token, _ = _new_user(four_instances)
    answers = _all_at_once([lambda: http_request(four_instances, "/v1/auth/me", token) for _ in range(2 * LIMIT)])
    statuses = [status for status, _, _ in answers]
    assert (statuses.count(200), statuses.count(429)) == (LIMIT, LIMIT)


def test_fifty_parallel_creates_make_a_total_of_fifty(four_instances: str) -> None:
    _, token, _ = _new_user(four_instances)
    create = [
        (
            lambda n=n: http_request(
                four_instances, "/v1/watchlists/items", token, {"title": f"T{n}", "type": "show"}, "POST"
            )
        )
        for n in range(50)
    ]
    assert {status for status, _, _ in _all_at_once(create)} == {201}
    status, _, body = http_request(four_instances, "/v1/watchlists?limit=1", token)
    assert (status, json.loads(body)["total"]) == (200, 50)


def test_concurrent_refreshes_of_one_token_all_get_one_pair_and_the_session_lives(four_instances: str) -> None:
    _, _, tokens = _new_user(four_instances)
    body = {"refresh_token": tokens["refresh_token"]}
    answers = _all_at_once([lambda: http_request(four_instances, "/v1/auth/refresh", body=body, method="POST")] * 5)
    assert [status for status, _, _ in answers] == [200] * 5
    pairs = {(pair["access_token"], pair["refresh_token"]) for pair in (json.loads(answer) for _, _, answer in answers)}
    assert len(pairs) == 1
    next_body = {"refresh_token": pairs.pop()[1]}
    assert http_request(four_instances, "/v1/auth/refresh", body=next_body, method="POST")[0] == 200


def test_two_admins_demoting_each_other_at_once_leave_an_admin(four_instances: str) -> None:
    admin = {"email": ADMIN[0], "password": ADMIN[1]}
    status, _, body = http_request(four_instances, "/v1/auth/login", body=admin, method="POST")
    assert status == 200
    first = json.loads(body)["access_token"]
    _, second_token, second = _new_user(four_instances)
    me = json.loads(http_request(four_instances, "/v1/auth/me", first)[2])
    assert (
        http_request(four_instances, f"/v1/admin/users/{second['user']['id']}", first, {"role": "admin"}, "PATCH")[0]
        == 200
    )
    answers = _all_at_once(
        [
            lambda: http_request(
                four_instances, f"/v1/admin/users/{second['user']['id']}", first, {"role": "user"}, "PATCH"
            ),
            lambda: http_request(
                four_instances, f"/v1/admin/users/{me['id']}", second_token, {"role": "user"}, "PATCH"
            ),
        ]
    )
    assert sorted(status for status, _, _ in answers) in ([200, 409], [200, 403])  # never both
    still_admin = [
        token for token in (first, second_token) if http_request(four_instances, "/v1/admin/users", token)[0] == 200
    ]
    assert len(still_admin) == 1


def test_ten_concurrent_writes_with_one_idempotency_key_make_one_item(four_instances: str) -> None:
    _, token, _ = _new_user(four_instances)
    key = {"Idempotency-Key": os.urandom(16).hex()}
    body = {"title": "Once", "type": "movie"}
    answers = _all_at_once(
        [lambda: http_request(four_instances, "/v1/watchlists/items", token, body, "POST", key) for _ in range(10)]
    )
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert len({answer for status, _, answer in answers if status == 201}) == 1  # the first answer, replayed
    assert all(headers.get("retry-after") == "1" for status, headers, _ in answers if status == 409)
    _, _, page = http_request(four_instances, "/v1/watchlists", token)
    assert json.loads(page)["total"] == 1
