"""When Redis dies or hangs the API keeps serving: cache and limits fail open, revocation as configured."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from infra.aws.calls import tally_aws_calls
from infra.local.instances import LambdaHandler
from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from tests.integration.conftest import ConnectionAttempts
from tests.support import PASSWORD, REDIS_TOPOLOGIES, Api, local_redis, unique_email
from watchlist_core import wiring
from watchlist_core.services.admission import REVOKED


@pytest.fixture(params=REDIS_TOPOLOGIES)
def own_redis(
    request: pytest.FixtureRequest, dynamodb: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RedisServer | LocalRedisCluster]:
    """A Redis this test alone uses, so it can stop it: a server, or every node of a cluster."""
    with local_redis(request.param) as server:
        monkeypatch.setenv("REDIS_URL", server.url)
        monkeypatch.setenv("REDIS_PAUSE_AFTER_FAILURE_SECONDS", "0")  # try Redis on every request
        wiring.reset()
        yield server


def test_with_redis_stopped_reads_and_writes_still_work_uncached_and_unlimited(
    handler: LambdaHandler,
    own_redis: RedisServer | LocalRedisCluster,
    redis_connections: ConnectionAttempts,
    log_lines: io.StringIO,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api = Api(handler)
    _, token = api.new_user()
    assert api.get("/v1/watchlists", token=token).header("ratelimit") is not None
    own_redis.stop()
    opened = len(redis_connections)

    created = api.post("/v1/watchlists/items", token=token, json={"title": "Offline", "type": "movie"})
    listed = api.get("/v1/watchlists", token=token)
    # Fast by construction, not by the clock: every attempt (one a Redis call: no pause here) is refused by the
    # kernel at once, none gets a socket it could wait on.
    attempts = [outcome for _, outcome in redis_connections[opened:]]
    assert attempts
    assert all(isinstance(attempt, ConnectionRefusedError) for attempt in attempts), attempts
    assert created.status == 201
    assert listed.status == 200
    assert listed.header("x-cache") == "MISS"
    assert listed.header("ratelimit") is None
    assert [i["title"] for i in listed.json()["items"]] == ["Offline"]

    warnings = [json.loads(line) for line in log_lines.getvalue().splitlines() if '"WARNING"' in line]
    assert any(w["message"].startswith("redis unavailable") for w in warnings)
    metrics = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("RedisUnavailable" in m for m in metrics)


def test_health_reports_redis_fail_and_overall_warn(
    handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster
) -> None:
    api = Api(handler)
    assert api.get("/v1/health/detailed").json()["checks"]["redis"]["status"] == "pass"
    own_redis.stop()
    health = api.get("/v1/health/detailed")
    assert health.status == 200
    body = health.json()
    assert (body["status"], body["checks"]["redis"]["status"], body["checks"]["dynamodb"]["status"]) == (
        "warn",
        "fail",
        "pass",
    )


def test_ended_sessions_stay_ended_through_a_redis_outage_from_dynamodb_and_503_when_configured_closed(
    handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(handler)
    user = api.register()
    ended, token = (api.login(user["email"])["access_token"] for _ in range(2))
    assert api.post("/v1/auth/logout", token=ended).status == 204
    own_redis.stop()
    refused = api.get("/v1/auth/me", token=ended)
    assert (refused.status, refused.json()["detail"]) == (401, REVOKED)
    assert api.get("/v1/auth/me", token=token).status == 200  # the live session goes on
    monkeypatch.setenv("REVOCATION_FAIL_MODE", "closed")
    wiring.reset()
    refused = api.get("/v1/auth/me", token=token)
    assert refused.status == 503
    assert refused.header("retry-after") == "5"


def test_the_login_throttle_holds_through_a_redis_outage_from_dynamodb_at_bounded_cost(
    handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOGIN_ACCOUNT_FAILURES", "5/900")
    wiring.reset()
    api = Api(handler)
    user = api.register()
    device_token = api.login(user["email"])["device_token"]
    own_redis.stop()
    guesses = {"email": user["email"], "password": "wrong guess"}
    costs = []
    for _ in range(2):
        with tally_aws_calls("dynamodb") as calls:
            assert api.post("/v1/auth/login", json=guesses).status == 401
        costs.append(calls.operations)
    # Beside the sign-in's own two reads: the failures' item read, and counted (a window's first failure finds no
    # window to count in, and starts one: two writes; every other, one).
    assert costs == [{"GetItem": 3, "UpdateItem": 2}, {"GetItem": 3, "UpdateItem": 1}]
    answers = [api.post("/v1/auth/login", json=guesses).status for _ in range(4)]
    assert answers == [401] * 3 + [429]
    assert api.post("/v1/auth/login", json=guesses | {"password": PASSWORD}).status == 429
    # The owner's device token still signs in; unknown addresses are counted alike (a refusal reveals nothing).
    trusted = api.post(
        "/v1/auth/login", json={"email": user["email"], "password": PASSWORD, "device_token": device_token}
    )
    assert trusted.status == 200
    unknown = {"email": unique_email(), "password": "guess"}
    assert [api.post("/v1/auth/login", json=unknown).status for _ in range(6)] == [401] * 5 + [429]


def test_logout_without_redis_says_the_session_could_not_be_ended(
    handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster
) -> None:
    api = Api(handler)
    user = api.register()
    tokens = api.login(user["email"])
    own_redis.stop()
    response = api.post(
        "/v1/auth/logout", token=tokens["access_token"], json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status == 503
    # The refresh token's session is revoked all the same (DynamoDB).
    assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401


def test_redis_coming_back_is_used_again(handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster) -> None:
    api = Api(handler)
    _, token = api.new_user()
    own_redis.stop()
    assert api.get("/v1/auth/me", token=token).header("x-cache") == "MISS"
    own_redis.start()
    assert [api.get("/v1/auth/me", token=token).header("x-cache") for _ in range(2)] == ["MISS", "HIT"]


@pytest.fixture
def silent_redis(dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A port that accepts connections and never answers: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
    wiring.reset()
    yield "hung"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_hung_redis_costs_one_short_timeout_then_is_skipped(  # type: ignore[no-untyped-def]
    handler,
    silent_redis: str,
    redis_connections: ConnectionAttempts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Proven by what reaches the socket, not by the clock: the configured command timeout, one attempt (no
    # retry), then no attempt at all while paused (a pause that cannot lapse during the test).
    monkeypatch.setenv("REDIS_PAUSE_AFTER_FAILURE_SECONDS", "3600")
    wiring.reset()
    timeout = wiring.get_services().settings.redis_timeout_seconds
    api = Api(handler)

    # The detailed health check is rate-limited per address: the gate's attempt times out and starts the pause;
    # the readiness probe goes straight to Redis all the same, and fails within the same timeout.
    health = api.get("/v1/health/detailed")
    assert health.json()["checks"]["redis"]["status"] == "fail"
    assert [outcome for _, outcome in redis_connections] == [timeout, timeout]

    _, token = api.new_user()
    for _ in range(5):
        assert api.get("/v1/watchlists", token=token).status == 200
    assert [outcome for _, outcome in redis_connections] == [
        timeout,
        timeout,
    ]  # paused: seven requests, no further attempt


def test_a_revoked_token_stays_revoked_after_redis_loses_its_data(
    handler: LambdaHandler, own_redis: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_PAUSE_AFTER_FAILURE_SECONDS", "0")
    api = Api(handler)
    _, logged_out = api.new_user()
    _, kept = api.new_user()
    assert api.post("/v1/auth/logout", token=logged_out).status == 204
    own_redis.stop()
    own_redis.start()  # no persistence: an empty Redis, as after an ElastiCache failover
    assert api.get("/v1/watchlists", token=logged_out).status == 401
    assert api.get("/v1/watchlists", token=logged_out).status == 401  # remembered in Redis again
    assert api.get("/v1/watchlists", token=kept).status == 200  # its session is checked once, and is live
    with tally_aws_calls("dynamodb") as dynamodb:
        assert api.get("/v1/watchlists", token=kept).header("x-cache") == "HIT"
    assert dynamodb.total == 0  # steady state again: no DynamoDB read to admit a request


def test_a_frozen_redis_is_waited_for_once_then_left_alone(
    handler: LambdaHandler,
    own_redis: RedisServer | LocalRedisCluster,
    redis_connections: ConnectionAttempts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_PAUSE_AFTER_FAILURE_SECONDS", "3600")
    wiring.reset()
    api = Api(handler)
    _, token = api.new_user()
    assert api.get("/v1/watchlists", token=token).status == 200  # a pooled connection to the node of the user's keys
    opened = len(redis_connections)
    own_redis.freeze()  # SIGSTOP: connections are accepted by the kernel, nothing answers
    try:
        answers = [api.get("/v1/watchlists", token=token) for _ in range(3)]
    finally:
        own_redis.thaw()
    assert [(a.status, a.header("x-cache")) for a in answers] == [(200, "MISS")] * 3
    assert len(redis_connections) == opened  # one wait on the pooled connection, then paused: no new attempt
