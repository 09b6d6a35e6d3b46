"""`make dev` end to end: the local stack over real HTTP, through the Lambda handler, and a clean stop."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from infra.commands.dev_stack import LocalStack, dev_stack
from infra.local.events import LambdaContext
from infra.local.redis_server import RedisServer
from infra.local.servers import free_port
from tests.hook_stubs import HOOK_EVENT, RecordingCodeDeploy, VersionedFunctions
from tests.support import make_smoke
from watchlist_hooks import lifecycle, post_traffic
from watchlist_hooks.smoke import STEPS, run_smoke

ADMIN = {"email": "boss@example.com", "password": "admin password 42"}


def _call(
    base: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(base + path, method=method)  # noqa: S310 (loopback)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw.startswith(b"{") else raw
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def dev_server() -> Iterator[LocalStack]:
    with dev_stack(ADMIN["email"], ADMIN["password"]) as stack:
        yield stack


def test_make_dev_serves_the_api_creates_the_admin_and_stops_cleanly(dev_server: LocalStack) -> None:
    base = dev_server.api
    status, headers, body = _call(base, "GET", "/health")
    assert (status, body) == (200, {"status": "pass"})
    assert headers["x-request-id"]
    status, _, tokens = _call(base, "POST", "/v1/auth/login", ADMIN)
    assert status == 200
    status, _, users = _call(base, "GET", "/v1/admin/users", token=tokens["access_token"])
    assert status == 200
    assert [u["role"] for u in users["items"] if u["email"] == ADMIN["email"]] == ["admin"]
    status, _, problem = _call(base, "GET", "/v1/watchlists")
    assert status == 401
    assert problem["instance"] == "/v1/watchlists"
    assert _call(base, "GET", "/docs")[0] == 200
    lookups = [_call(base, "GET", "/v1/external/github/users/octocat", token=tokens["access_token"]) for _ in "12"]
    assert [(status, headers["x-cache"], body["login"]) for status, headers, body in lookups] == [
        (200, "MISS", "octocat"),
        (200, "HIT", "octocat"),
    ]  # GITHUB_STUB=1: the local GitHub stand-in
    admin_id = next(u["id"] for u in users["items"] if u["email"] == ADMIN["email"])
    assert _audited_login(base, tokens["access_token"], admin_id)  # through SQS and the audit worker
    # The signing key is the stack's own: a token signed with the constant the code once held is refused.
    forged = jwt.encode(
        {
            "sub": admin_id,
            "sid": "never-issued",
            "jti": "x",
            "typ": "access",
            "role": "admin",
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
            "iss": "watchlist-api",
            "aud": "watchlist-api",
        },
        "local-development-secret-never-use-it-outside-local",
        algorithm="HS256",
    )
    assert _call(base, "GET", "/v1/admin/users", token=forged)[0] == 401
    _a_distributed_guesser_cannot_lock_the_owner_out(base)
    reset_link = _mailed_reset_link(base, ADMIN["email"])

    output = dev_server.stop()  # SIGTERM
    # Each mail as one line of make dev's output, its link in it.
    assert f"mail to {ADMIN['email']}: Reset your Watchlist password  {reset_link}" in output
    assert dev_server.process.returncode == 0, output
    moto_port = int(re.search(r"moto server \(DynamoDB, SQS\) on http://127.0.0.1:(\d+)", output).group(1))  # type: ignore[union-attr]
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", moto_port), timeout=1):
        pass  # the moto server it started is gone too
    worker_pid = int(re.search(r"audit worker .*: pid (\d+)", output).group(1))  # type: ignore[union-attr]
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)  # and so is the audit worker


def _mailed_reset_link(base: str, email: str) -> str:
    """Asks for a reset mail; reads it in the local mailbox (through SQS, the mail worker and moto's SES) as JSON and
    as a page; returns its link."""
    assert _call(base, "POST", "/v1/auth/password/forgot", {"email": email})[0] == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mailbox = httpx.get(base + "/_local/mailbox", timeout=5)
        resets = [m for m in mailbox.json() if m["to"] == email and m["subject"] == "Reset your Watchlist password"]
        if resets:
            break
        time.sleep(0.2)
    assert resets, mailbox.json()
    assert mailbox.headers["cache-control"] == "no-store"
    assert list(resets[0]) == ["to", "subject", "text", "sent_at"]
    link = str(re.search(r"http://\S+", resets[0]["text"])[0])  # type: ignore[index]
    assert "/reset?token=" in link
    page = httpx.get(base + "/_local/mailbox", headers={"Accept": "text/html"}, timeout=5)
    assert page.headers["content-type"].startswith("text/html")
    assert f'<a href="{html.escape(link)}">' in page.text
    return link


def _sign_in_from(base: str, address: str, body: dict[str, str]) -> httpx.Response:
    """A sign-in from `address` (a loopback address of its own: the local gateway takes the peer's as API Gateway's
    source IP)."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10) as client:
        return client.post(base + "/v1/auth/login", json=body)


def _a_distributed_guesser_cannot_lock_the_owner_out(base: str) -> None:
    """5 wrong passwords from each of 10 addresses; then the owner from a new one: held back without the device token
    of an earlier sign-in, let in with it."""
    owner = {"email": f"owner-{uuid.uuid4().hex[:8]}@example.com", "password": "owner password 1"}
    assert _call(base, "POST", "/v1/auth/register", owner)[0] == 201
    device_token = _call(base, "POST", "/v1/auth/login", owner)[2]["device_token"]
    for number in range(10):
        for _ in range(5):
            guess = _sign_in_from(base, f"127.0.1.{number + 1}", owner | {"password": "a guess"})
            assert guess.status_code == 401
    assert _sign_in_from(base, "127.0.2.1", owner).status_code == 429
    assert _sign_in_from(base, "127.0.2.1", owner | {"device_token": device_token}).status_code == 200


def _audited_login(base: str, token: str, admin_id: str) -> bool:
    """The admin's login appears in the audit trail within a few seconds (the worker long-polls the queue)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, _, page = _call(
            base, "GET", f"/v1/admin/audit?actor_id={admin_id}&action=auth.login_succeeded", token=token
        )
        assert status == 200
        if page["items"]:
            return True
        time.sleep(0.3)
    return False


def test_make_dev_says_which_redis_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.commands import dev

    monkeypatch.setenv("REDIS_URL", "recorded so that teardown restores its absence")
    monkeypatch.delenv("REDIS_URL")
    with RedisServer() as redis:
        monkeypatch.setattr(dev, "LOCAL_REDIS", ("127.0.0.1", redis.port))
        assert dev._choose_redis().startswith("Redis: the local server")
        assert os.environ["REDIS_URL"] == f"redis://127.0.0.1:{redis.port}/0"
    monkeypatch.delenv("REDIS_URL")
    monkeypatch.setattr(dev, "LOCAL_REDIS", ("127.0.0.1", free_port()))
    assert "IN-PROCESS" in dev._choose_redis()
    assert "REDIS_URL" not in os.environ


# The smoke flow (functions/hooks), `make smoke` and the post-traffic hook, against two stacks this module shares: a
# good one, and one whose settings are wrong in a way its health checks cannot see (REQUIRE_VERIFIED_EMAIL=true: a
# new account may not change its watchlist, so the flow fails midway, after its account was made).


@pytest.fixture(scope="module")
def good_stack() -> Iterator[LocalStack]:
    with dev_stack(ADMIN["email"], ADMIN["password"]) as stack:
        yield stack


@pytest.fixture(scope="module")
def misconfigured_stack() -> Iterator[LocalStack]:
    with dev_stack(ADMIN["email"], ADMIN["password"], REQUIRE_VERIFIED_EMAIL="true") as stack:
        yield stack


def _user_emails(base: str) -> set[str]:
    token = _call(base, "POST", "/v1/auth/login", ADMIN)[2]["access_token"]
    status, _, page = _call(base, "GET", "/v1/admin/users?limit=100", token=token)
    assert status == 200
    return {user["email"] for user in page["items"]}


def test_the_smoke_flow_passes_against_make_dev_and_leaves_no_account_behind(good_stack: LocalStack) -> None:
    report = run_smoke(good_stack.api + "/")
    assert report.passed, report.summary()
    assert [step.name for step in report.steps] == list(STEPS)
    assert all(step.passed and step.seconds > 0 for step in report.steps)
    assert report.email.startswith("success+smoke-")
    assert report.email.endswith("@simulator.amazonses.com")
    assert report.cleanup == ""  # the flow deleted its account itself
    assert report.email not in _user_emails(good_stack.api)


def test_the_smoke_flow_names_the_step_a_misconfigured_stack_fails_and_deletes_its_account(
    misconfigured_stack: LocalStack,
) -> None:
    report = run_smoke(misconfigured_stack.api)
    assert not report.passed
    assert [(step.name, step.passed) for step in report.steps] == [
        ("register", True),
        ("sign in", True),
        ("add item", False),
    ]
    assert report.failed_step is not None
    assert report.failed_step.detail.startswith("POST /v1/watchlists/items: expected 201, got HTTP 403")
    assert "FAILED at 'add item'" in report.summary()
    assert report.cleanup == "the account was deleted"
    assert report.email not in _user_emails(misconfigured_stack.api)


def test_make_smoke_passes_against_a_good_stack(good_stack: LocalStack) -> None:
    run = make_smoke(good_stack.api)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "make smoke: smoke flow passed; newman (Health) passed" in run.stdout
    assert "Liveness" in run.stdout  # newman's run of the Health folder's requests
    assert "Readiness" in run.stdout
    assert "Auth" not in run.stdout  # and of no other folder


def test_make_smoke_fails_against_a_misconfigured_stack_naming_the_step(misconfigured_stack: LocalStack) -> None:
    run = make_smoke(misconfigured_stack.api)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED at 'add item'" in run.stdout
    assert "make smoke: smoke flow FAILED; newman (Health) passed" in run.stdout


@pytest.fixture
def codedeploy(monkeypatch: pytest.MonkeyPatch) -> RecordingCodeDeploy:
    stub = RecordingCodeDeploy()
    monkeypatch.setattr(lifecycle, "codedeploy_client", lambda: stub)
    return stub


@pytest.fixture
def functions(monkeypatch: pytest.MonkeyPatch) -> VersionedFunctions:
    """The API function with 6 versions, its alias `live` shifting from 5 to 6 (weighted), and an old alias on 2; the
    audit function with 3 versions and no alias."""
    stub = VersionedFunctions({"api": (6, {"live": ("5", {"6": 0.5}), "pinned": ("2", {})}), "audit": (3, {})})
    monkeypatch.setattr(post_traffic, "lambda_client", lambda: stub)
    monkeypatch.setenv("PRUNE_FUNCTIONS", "api, audit")
    monkeypatch.setenv("KEEP_VERSIONS", "2")
    return stub


def test_the_post_traffic_hook_passes_on_a_good_stack_and_prunes_old_versions(
    good_stack: LocalStack,
    codedeploy: RecordingCodeDeploy,
    functions: VersionedFunctions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_URL", good_stack.api + "/")
    assert post_traffic.handler(HOOK_EVENT, LambdaContext(timeout_seconds=60)) == {"status": "Succeeded"}
    assert codedeploy.statuses() == ["Succeeded"]
    assert functions.versions == {"api": ["$LATEST", "2", "5", "6"], "audit": ["$LATEST", "2", "3"]}


def test_the_post_traffic_hook_fails_on_a_misconfigured_stack_and_prunes_nothing(
    misconfigured_stack: LocalStack,
    codedeploy: RecordingCodeDeploy,
    functions: VersionedFunctions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_URL", misconfigured_stack.api)
    assert post_traffic.handler(HOOK_EVENT, LambdaContext(timeout_seconds=60)) == {"status": "Failed"}
    assert codedeploy.statuses() == ["Failed"]
    assert functions.deleted == []
