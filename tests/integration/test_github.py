"""GET /v1/external/github/users/{username} through the Lambda handler, against a GitHub stub on loopback:
every error mapping, retries, the breaker, the cache and ETag reuse, and many consecutive invocations."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.github_stub import GitHubStub, Reply
from tests.support import Api
from watchlist_core import wiring

TOKEN = "ghp_test-token-that-must-never-be-logged"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStub]:
    """A GitHub stub, and the API pointed at it with short timeouts (so a slow answer is quick to test)."""
    with GitHubStub() as stub:
        for name, value in {
            "GITHUB_API_URL": stub.url,
            "GITHUB_CONNECT_TIMEOUT_SECONDS": "0.5",
            "GITHUB_READ_TIMEOUT_SECONDS": "0.3",
            "GITHUB_DEADLINE_SECONDS": "2",
            "GITHUB_TOKEN": TOKEN,
        }.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        yield stub


@pytest.fixture
def caller(api: Api, github: GitHubStub) -> str:
    return api.new_user()[1]


def unique_login(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def lookup(api: Api, token: str, username: str, **kwargs: Any) -> Any:
    return api.get(f"/v1/external/github/users/{username}", token=token, **kwargs)


def test_a_profile_is_fetched_once_then_served_from_the_cache(api: Api, github: GitHubStub, caller: str) -> None:
    login = unique_login()
    github.add_user(login, name="Mona", public_repos=3, followers=7)

    first = lookup(api, caller, login)
    second = lookup(api, caller, login.upper())  # GitHub names are case-insensitive

    assert first.status == 200
    assert first.json() == {
        "login": login,
        "name": "Mona",
        "public_repos": 3,
        "followers": 7,
        "html_url": f"https://github.com/{login}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/1?login={login}",
    }
    assert (first.header("x-cache"), second.header("x-cache")) == ("MISS", "HIT")
    assert second.json() == first.json()
    assert len(github.requests_for(login)) == 1
    assert first.header("etag")
    assert first.header("cache-control") == "private, no-cache"
    assert first.header("ratelimit-policy") == '"external";q=30;w=60'
    assert lookup(api, caller, login, headers={"If-None-Match": first.header("etag")}).status == 304


def test_a_stale_entry_is_revalidated_with_githubs_etag_and_a_304_keeps_it(
    api: Api, github: GitHubStub, caller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_CACHE_TTL_SECONDS", "1")
    wiring.reset()
    token = api.new_user()[1]
    login = unique_login()
    github.add_user(login, followers=1)
    first = lookup(api, token, login)
    time.sleep(1.1)

    again = lookup(api, token, login)

    requests = github.requests_for(login)
    assert len(requests) == 2
    assert "if-none-match" not in requests[0].headers
    assert requests[1].headers["if-none-match"].startswith('W/"')  # GitHub answered 304: no quota spent
    assert (again.status, again.json(), again.header("x-cache")) == (200, first.json(), "MISS")
    assert lookup(api, token, login).header("x-cache") == "HIT"  # fresh again after the 304


@pytest.mark.parametrize("username", ["-leading", "trailing-", "double--hyphen", "x" * 40, "under_score", "dot.ted"])
def test_a_name_github_could_never_have_is_422_without_asking_github(
    api: Api, github: GitHubStub, caller: str, username: str
) -> None:
    response = lookup(api, caller, username)
    assert response.status == 422
    assert response.header("content-type") == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["path", "username"]
    assert github.requests == []


def test_an_unknown_user_is_404_and_the_answer_is_remembered(api: Api, github: GitHubStub, caller: str) -> None:
    login = unique_login("nobody")
    first, second = lookup(api, caller, login), lookup(api, caller, login)
    assert (first.status, second.status) == (404, 404)
    assert first.json()["request_id"] == first.header("x-request-id")
    assert len(github.requests_for(login)) == 1  # no retry, and the 404 is cached for a minute


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"{not json", {"Content-Type": "application/json"}),
        Reply(200, json.dumps({"login": "x", "followers": "many"}).encode()),
        Reply(500, b"{}"),
        Reply(403, b'{"message": "Forbidden"}'),
    ],
    ids=["malformed-json", "not-a-profile", "500", "403-not-a-rate-limit"],
)
def test_an_unusable_answer_is_502_without_retrying(api: Api, github: GitHubStub, caller: str, reply: Reply) -> None:
    login = unique_login()
    github.script(login, reply)
    response = lookup(api, caller, login)
    assert response.status == 502
    assert response.header("content-type") == "application/problem+json"
    assert response.json()["request_id"] == response.header("x-request-id")
    assert len(github.requests_for(login)) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_failures_are_retried_then_succeed(api: Api, github: GitHubStub, caller: str, status: int) -> None:
    login = unique_login()
    github.add_user(login)
    github.script(login, Reply(status), Reply(status))
    response = lookup(api, caller, login)
    assert response.status == 200
    assert len(github.requests_for(login)) == 3


def test_transient_failures_stop_after_three_attempts_with_502(api: Api, github: GitHubStub, caller: str) -> None:
    login = unique_login()
    github.script(login, *[Reply(503)] * 5)
    response = lookup(api, caller, login)
    assert response.status == 502
    assert len(github.requests_for(login)) == 3


def test_a_slow_github_is_504_within_the_deadline(
    api: Api, github: GitHubStub, caller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bound proven by what the lookup is given, not by the clock: the configured deadline around it all.
    deadlines: list[float | None] = []
    real_timeout = asyncio.timeout

    def recorded(delay: float | None) -> asyncio.Timeout:
        deadlines.append(delay)
        return real_timeout(delay)

    monkeypatch.setattr(asyncio, "timeout", recorded)
    login = unique_login()
    github.script(login, *[Reply(200, b"{}", delay_seconds=1.0)] * 5)
    response = lookup(api, caller, login)
    assert response.status == 504
    assert response.header("content-type") == "application/problem+json"
    assert len(github.requests_for(login)) == 3  # each attempt times out after 0.3 s, and is retried
    assert deadlines == [2]  # GITHUB_DEADLINE_SECONDS: one deadline around the attempts and their back-off


@pytest.mark.parametrize(
    ("status", "headers", "expected_retry_after"),
    [
        (429, lambda: {"Retry-After": "17"}, range(17, 18)),
        (
            403,
            lambda: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)},
            range(3595, 3601),
        ),
    ],
    ids=["429-retry-after", "403-ratelimit-reset"],
)
def test_when_github_limits_us_it_is_503_with_its_retry_after_and_github_is_left_alone(
    api: Api, github: GitHubStub, caller: str, status: int, headers: Any, expected_retry_after: range
) -> None:
    reply = Reply(status, b"{}", headers())
    login, other = unique_login(), unique_login()
    github.add_user(other)
    github.script(login, reply)
    response = lookup(api, caller, login)
    assert response.status == 503
    assert int(response.header("retry-after") or 0) in expected_retry_after
    assert response.header("content-type") == "application/problem+json"
    assert lookup(api, caller, other).status == 503  # held off until GitHub's reset...
    assert github.requests_for(other) == []  # ...without calling it


def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_good_trial(
    api: Api, github: GitHubStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_BREAKER_FAILURES", "2")
    monkeypatch.setenv("GITHUB_BREAKER_OPEN_SECONDS", "1")
    wiring.reset()
    token = api.new_user()[1]
    failing = [unique_login() for _ in range(2)]
    for login in failing:
        github.script(login, Reply(500))
        assert lookup(api, token, login).status == 502
    healthy = unique_login()
    github.add_user(healthy)

    refused = lookup(api, token, healthy)
    assert refused.status == 503
    assert refused.header("retry-after") == "1"
    assert github.requests_for(healthy) == []
    time.sleep(1.1)
    assert lookup(api, token, healthy).status == 200  # the trial call succeeds: closed again
    assert lookup(api, token, unique_login("absent")).status == 404


def test_the_client_survives_consecutive_invocations_and_keeps_its_connection(
    api: Api, github: GitHubStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_EXTERNAL", "100/60")
    wiring.reset()
    caller = api.new_user()[1]
    logins = [unique_login() for _ in range(52)]
    for login in logins:
        github.add_user(login)
    for count in (2, 50):
        batch, logins = logins[:count], logins[count:]
        assert [lookup(api, caller, login).status for login in batch] == [200] * count
    github_requests = [r for r in github.requests if r.path.startswith("/users/user-")]
    assert len(github_requests) == 52
    assert len({r.client_port for r in github_requests}) == 1  # one kept-alive connection for all


def test_lookups_count_against_their_own_stricter_limit(
    api: Api, github: GitHubStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_EXTERNAL", "2/60")
    wiring.reset()
    token = api.new_user()[1]
    login = unique_login()
    github.add_user(login)
    assert [lookup(api, token, login).status for _ in range(3)] == [200, 200, 429]
    assert api.get("/v1/auth/me", token=token).header("ratelimit-policy") == '"user";q=100;w=60'


def test_a_closed_event_loop_gets_a_new_client(api: Api, github: GitHubStub, caller: str) -> None:
    import watchlist_api.handler as handler_module

    first, second = unique_login(), unique_login()
    github.add_user(first)
    github.add_user(second)
    assert lookup(api, caller, first).status == 200
    handler_module._current_loop().close()  # as if something closed the loop between invocations
    assert lookup(api, caller, second).status == 200
    ports = [github.requests_for(login)[0].client_port for login in (first, second)]
    assert ports[0] != ports[1]  # the old client's connection died with its loop


def test_the_token_is_sent_to_github_and_never_logged(
    api: Api, github: GitHubStub, caller: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    login = unique_login()
    github.add_user(login)
    github.script(unique_login(), Reply(500))
    assert lookup(api, caller, login).status == 200
    assert github.requests_for(login)[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in capsys.readouterr().out + caplog.text


def test_readiness_never_calls_github(api: Api, github: GitHubStub) -> None:
    response = api.get("/v1/health/detailed")
    assert response.status == 200
    assert "github" not in response.json()["checks"]
    assert github.requests == []


def test_the_lookup_needs_a_bearer_token(api: Api, github: GitHubStub) -> None:
    assert api.get("/v1/external/github/users/octocat").status == 401
    assert github.requests == []
