"""Driving the Lambda handler with API Gateway events, as AWS does, and reading its answers."""

from __future__ import annotations

import json as jsonlib
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import TypeAdapter, ValidationError
from ulid import ULID

from infra.local.events import LambdaContext, api_gateway_event, response_body, response_headers
from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from watchlist_core.audit.message import AuditEvent
from watchlist_core.domain import ItemStatus, ItemType, WatchlistItem, utc_now
from watchlist_core.mail.jobs import MailJob
from watchlist_core.settings import get_settings
from watchlist_core.storage.items import count_field, derived_keys
from watchlist_core.storage.tables import ItemRecord, UserRecord
from watchlist_core.storage.users import user_pk

PASSWORD = "correct horse battery"
# The suite's own signing key (every test's JWT_SECRET), as every local stack has its own: none is in the code.
TEST_SIGNING_KEY = secrets.token_urlsafe(48)

# The two kinds of Redis users deploy: one server, or a cluster (ElastiCache Serverless, a cluster-mode-enabled
# replication group), here of three primaries.
REDIS_TOPOLOGIES = ["single", "cluster"]


def local_redis(topology: str) -> RedisServer | LocalRedisCluster:
    return RedisServer() if topology == "single" else LocalRedisCluster(primaries=3)


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Api:
    """Calls `handler` with a v1 or v2 proxy event, optionally under a stage prefix."""

    handler: Any
    version: str = "1.0"
    stage: str | None = None
    source_ip: str = "203.0.113.7"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> ApiResponse:
        header_pairs = list((headers or {}).items())
        if json is not None:
            body = jsonlib.dumps(json).encode()
            header_pairs.append(("Content-Type", "application/json"))
        if token:
            header_pairs.append(("Authorization", f"Bearer {token}"))
        event = api_gateway_event(
            method,
            path,
            headers=header_pairs,
            query=urlencode(query or {}, doseq=True),
            body=body,
            source_ip=self.source_ip,
            stage=self.stage,
            version=self.version,
        )
        self.calls.append(event)
        result = self.handler(event, LambdaContext())
        headers_out: dict[str, str] = {}
        for name, value in response_headers(result):
            headers_out[name.lower()] = value
        if "json" in headers_out.get("content-type", ""):
            # API Gateway passes a base64 body to REST API clients as it is: JSON must stay text.
            assert not result.get("isBase64Encoded"), result
        return ApiResponse(result["statusCode"], headers_out, response_body(result))

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)

    # Helpers for tests that need an account: each makes unique data, so tests need no order.
    def register(self, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        email = email or unique_email()
        response = self.post("/v1/auth/register", json={"email": email, "password": password})
        assert response.status == 201, response.body
        return dict(response.json())

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.post("/v1/auth/login", json={"email": email, "password": password})
        assert response.status == 200, response.body
        return dict(response.json())

    def new_user(self) -> tuple[dict[str, Any], str]:
        """A registered user and a fresh access token."""
        user = self.register()
        return user, self.login(user["email"])["access_token"]


@contextmanager
def past_the_refresh_grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The auth service's clock, meanwhile, past the refresh-token reuse grace period: a fake clock."""
    from watchlist_core.services import auth

    later = timedelta(seconds=get_settings().refresh_reuse_grace_seconds + 1)
    with monkeypatch.context() as patch:
        patch.setattr(auth, "utc_now", lambda: utc_now() + later)
        yield


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def seed_items(user_id: str, count: int) -> None:
    """`count` items of the user written as ItemStore.create writes them, but 25 a request (BatchWriteItem), and the
    owner's counts: many items in little time, for benchmarks and tests of large watchlists."""
    started = datetime(2020, 1, 1, tzinfo=UTC)
    types, statuses = list(ItemType), list(ItemStatus)
    counts: dict[str, int] = {}
    with ItemRecord.batch_write() as batch:
        for number in range(count):
            moment = started + timedelta(minutes=number)
            item = WatchlistItem(
                id=str(ULID.from_datetime(moment)),
                title=f"Title {number:05d}",
                type=types[number % 2],
                status=statuses[number % 4] if number % 10 else ItemStatus.COMPLETED,
                year=1950 + number % 70,
                rating=number % 10 + 1 if number % 3 else None,
                created_at=moment,
                updated_at=moment,
                version=1,
            )
            fields = item.model_dump(mode="json", exclude={"id", "version"})
            attributes = fields | derived_keys(item.id, fields)
            batch.save(ItemRecord(user_id=user_id, item_id=item.id, version=1, **attributes))
            key = count_field(item.type, item.status)
            counts[key] = counts.get(key, 0) + 1
    UserRecord(pk=user_pk(user_id)).update(actions=[UserRecord.item_counts.set(counts)])


def assert_expected_outcome(path: Path, event: dict[str, Any], response: dict[str, Any]) -> None:
    """What a sample event's file name promises: `__<status>` for the API (with the request id echoed and
    problem bodies on errors), `__stored` and `__stored-once` for audit batches and `__sent` for mail ones (no
    failures), `__partial-failure` (exactly the records that are not the function's messages fail), `__report` for
    the relay."""
    expected = path.stem.rsplit("__", 1)[1]
    if expected.isdigit():
        headers = {name.lower(): value for name, value in response_headers(response)}
        assert response["statusCode"] == int(expected), response.get("body")
        assert headers["x-request-id"] == event["requestContext"]["requestId"]
        if response["statusCode"] >= 400:
            assert headers["content-type"] == "application/problem+json"
            assert jsonlib.loads(response["body"])["request_id"] == headers["x-request-id"]
    elif expected in {"stored", "stored-once", "sent", "partial-failure"}:
        is_message = _is_mail_job if path.parent.name == "mail" else _is_audit_event
        poison = [record["messageId"] for record in event["Records"] if not is_message(record["body"])]
        assert bool(poison) == (expected == "partial-failure"), path
        assert response == {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in poison]}
    elif expected == "report":
        assert set(response) == {"due", "sent", "gave_up"}
    else:
        raise AssertionError(f"{path.name}: no known outcome {expected!r}")


def _is_mail_job(body: str) -> bool:
    try:
        TypeAdapter(MailJob).validate_json(body)
    except ValidationError:
        return False
    return True


def _is_audit_event(body: str) -> bool:
    try:
        AuditEvent.model_validate_json(body)
    except ValidationError:
        return False
    return True


def http_request(
    base: str,
    path: str,
    token: str | None = None,
    body: object = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over real HTTP to a local stack: status, headers (lower-cased names), body."""
    request = urllib.request.Request(base + path, method=method, headers=headers or {})  # noqa: S310 (loopback)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.data = jsonlib.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def cold_started_handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The API handler with a new app, as a new Lambda instance has: an app reads its configuration (CORS among it)
    once, on its first request, so one an earlier test used keeps that test's."""
    from mangum import Mangum

    import watchlist_api.handler as handler_module
    from watchlist_api.app import create_app

    text_types = handler_module.asgi_handler.config["text_mime_types"]
    monkeypatch.setattr(
        handler_module, "asgi_handler", Mangum(create_app(), lifespan="off", text_mime_types=text_types)
    )
    return handler_module.handler


# Every function that serves or consumes traffic, and the prefix of its new version's alarm.
DEPLOYED_GRADUALLY = {
    "ApiFunction": "Api",
    "AuditFunction": "Audit",
    "OutboxRelayFunction": "OutboxRelay",
    "MailFunction": "Mail",
}


def make_smoke(url: str) -> subprocess.CompletedProcess[str]:
    """`make smoke URL=...`'s command (the Makefile adds only its installs), its output captured."""
    return subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "infra.commands.smoke", url], capture_output=True, text=True, timeout=90, check=False
    )
