"""Contract conventions every endpoint keeps: problem+json, request ids, limits, stages, dependencies."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import QueryError

from infra.local.servers import free_port
from tests.support import Api, cold_started_handler
from watchlist_api.app import create_app
from watchlist_api.middleware import ALLOWED_REQUEST_HEADERS, EXPOSED_HEADERS
from watchlist_core import wiring
from watchlist_core.observability import logger
from watchlist_core.settings import ConfigurationError
from watchlist_core.storage.items import ItemStore

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.header("content-type") == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_FIELDS
    assert problem["status"] == status
    assert problem["request_id"] == response.header("x-request-id")
    return dict(problem)


def test_malformed_json_is_a_400_problem(api: Api) -> None:
    _, token = api.new_user()
    response = api.post(
        "/v1/watchlists/items", token=token, body=b'{"title": "x",', headers={"Content-Type": "application/json"}
    )
    _assert_problem(response, 400)


def test_bodies_over_64_kib_get_413(api: Api) -> None:
    _, token = api.new_user()
    body = json.dumps({"title": "x", "type": "movie", "notes": "n" * 70_000}).encode()
    response = api.post("/v1/watchlists/items", token=token, body=body, headers={"Content-Type": "application/json"})
    _assert_problem(response, 413)
    assert api.get("/v1/watchlists", token=token).json()["total"] == 0


def test_unknown_paths_and_methods_are_problems(any_api: Api) -> None:
    problem = _assert_problem(any_api.get("/v1/nothing-here"), 404)
    prefix = f"/{any_api.stage}" if any_api.stage else ""
    assert problem["instance"] == f"{prefix}/v1/nothing-here"
    response = any_api.request("PUT", "/v1/auth/me")
    _assert_problem(response, 405)
    assert response.header("allow") == "GET, PATCH, DELETE, HEAD"


@pytest.mark.parametrize(
    ("offered", "kept"), [("client-id_1.2:3", True), ("has space", False), ("x" * 129, False), ("", False)]
)
def test_request_id_is_the_clients_when_valid_else_the_gateways(api: Api, offered: str, kept: bool) -> None:
    response = api.get("/health", headers={"X-Request-ID": offered} if offered else {})
    request_id = response.header("x-request-id")
    gateway_id = api.calls[-1]["requestContext"]["requestId"]
    assert request_id == (offered if kept else gateway_id)


def test_the_request_id_is_the_loggers_correlation_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    api.get("/health", headers={"X-Request-ID": "trace-me-123"})
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    access = [line for line in lines if line.get("message") == "request"]
    assert access
    assert access[-1]["correlation_id"] == "trace-me-123"
    assert access[-1]["source_ip"] == api.source_ip


def test_health_is_liveness_only(any_api: Api) -> None:
    response = any_api.get("/health")
    assert response.status == 200
    assert response.json() == {"status": "pass"}


def test_detailed_health_checks_dynamodb(api: Api) -> None:
    response = api.get("/v1/health/detailed")
    assert response.status == 200
    body = response.json()
    assert body["status"] == "pass"
    assert body["checks"]["dynamodb"]["status"] == "pass"
    assert body["checks"]["dynamodb"]["latency_ms"] >= 0
    assert body["version"]


def test_docs_and_openapi_work_under_a_stage(handler) -> None:  # type: ignore[no-untyped-def]
    for version in ("1.0", "2.0"):
        api = Api(handler, version=version, stage="Prod")
        docs = api.get("/docs")
        assert docs.status == 200
        assert "/Prod/openapi.json" in docs.body.decode()
        assert "/Prod/docs/oauth2-redirect" in docs.body.decode()
        assert api.get("/docs/oauth2-redirect").status == 200
        spec = api.get("/openapi.json").json()
        assert spec["servers"] == [{"url": "/Prod"}]
        assert "/v1/watchlists/items/{item_id}" in spec["paths"]


def _page_links(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize(("version", "stage"), [("1.0", None), ("1.0", "Prod"), ("2.0", "Prod")])
def test_swagger_ui_loads_only_the_apis_own_pinned_assets_which_browsers_keep(
    handler: Any, version: str, stage: str | None
) -> None:
    api = Api(handler, version=version, stage=stage)
    page = api.get("/docs").body.decode()
    prefix = f"/{stage}" if stage else ""
    links = [link for link in _page_links(page) if not link.startswith("data:")]
    assert len(links) == 2, links  # the script and the stylesheet; the icon is inline
    assert "://" not in page.replace("http://www.w3.org", "")  # no other host at run time
    for link, media_type, start in [
        (next(link for link in links if link.endswith(".js")), "text/javascript; charset=utf-8", b"/*!"),
        (next(link for link in links if link.endswith(".css")), "text/css; charset=utf-8", b".swagger-ui"),
    ]:
        assert link.startswith(f"{prefix}/docs/assets/"), link
        asset = api.get(link.removeprefix(prefix))
        assert asset.status == 200, asset.body[:200]
        assert asset.header("content-type") == media_type
        assert asset.header("cache-control") == "public, max-age=31536000, immutable"
        assert asset.body.startswith(start)
        assert len(asset.body) > 100_000
    # The URL names the content: another digest (a page from before a new version) is not this content.
    stale = api.get("/docs/assets/0123456789abcdef/swagger-ui-bundle.js")
    _assert_problem(stale, 404)
    _assert_problem(api.get(links[0].removeprefix(prefix).rsplit("/", 1)[0] + "/index.html"), 404)


def test_swagger_ui_assets_can_be_loaded_from_elsewhere(handler, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWAGGER_UI_ASSETS_URL", "https://static.example.com/swagger/")
    wiring.reset()
    page = Api(handler).get("/docs").body.decode()
    assert "https://static.example.com/swagger/swagger-ui-bundle.js" in page
    assert "https://static.example.com/swagger/swagger-ui.css" in page


def test_the_swagger_ui_assets_cost_the_cold_start_nothing() -> None:
    # Their package is never imported, and its files are read by the first request that needs them, not at import.
    code = (
        "import sys, watchlist_api.app as app, watchlist_api.routers.docs as docs; app.create_app(); "
        "assert 'fastapi_offline' not in sys.modules; assert docs.bundled_assets.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})  # noqa: S603


def test_a_dead_dynamodb_gives_503_with_retry_after_and_failing_health(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = api.new_user()
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("DYNAMODB_MAX_RETRY_ATTEMPTS", "0")
    wiring.reset()
    response = api.get("/v1/watchlists", token=token)
    _assert_problem(response, 503)
    assert response.header("retry-after") == "1"

    health = api.get("/v1/health/detailed")  # its deadline: tests/unit/test_health_service.py
    assert health.status == 503
    assert health.json()["status"] == "fail"
    assert health.json()["checks"]["dynamodb"]["status"] == "fail"


def test_a_dynamodb_throttle_gives_503_not_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = api.new_user()
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Query"
    )

    def throttle(*args: Any, **kwargs: Any) -> None:
        raise QueryError("Failed to query items", cause=throttled)

    monkeypatch.setattr(ItemStore, "list", throttle)
    response = api.get("/v1/watchlists", token=token)
    _assert_problem(response, 503)
    assert response.header("retry-after") == "1"


def test_an_unexpected_error_is_a_500_problem_without_internals(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = api.new_user()

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail in ItemStore")

    monkeypatch.setattr(ItemStore, "list", explode)
    response = api.get("/v1/watchlists", token=token)
    problem = _assert_problem(response, 500)
    assert "ItemStore" not in response.body.decode()
    assert "secret" not in problem["detail"]


@pytest.mark.parametrize(
    ("unset", "error"),
    [("AUDIT_QUEUE_URL", "AUDIT_QUEUE_URL"), ("JWT_SECRET", "signing key")],
    ids=["no-audit-queue", "no-signing-key"],
)
def test_invalid_configuration_outside_local_refuses_to_serve(
    api: Api, monkeypatch: pytest.MonkeyPatch, unset: str, error: str
) -> None:
    """A running instance's configuration changes only on a rebuild (a SnapStart restore): the invocation fails."""
    monkeypatch.setenv("STAGE", "Prod")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("AUDIT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")
    monkeypatch.delenv(unset)
    wiring.reset()
    with pytest.raises((ValueError, ConfigurationError), match=error):
        api.get("/health")


@pytest.fixture
def cors_api(dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The API answering browsers from two origins."""
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example.com, https://admin.example.com")
    wiring.reset()
    return Api(cold_started_handler(monkeypatch))


def test_cors_admits_only_configured_origins_and_exposes_the_headers_clients_read(cors_api: Api) -> None:
    api = cors_api
    preflight = api.request(
        "OPTIONS",
        "/v1/watchlists/items",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match",
        },
    )
    assert preflight.status == 200
    assert preflight.header("access-control-allow-origin") == "https://app.example.com"
    assert "PATCH" in (preflight.header("access-control-allow-methods") or "")
    allowed = api.get("/health", headers={"Origin": "https://admin.example.com"})
    assert allowed.header("access-control-allow-origin") == "https://admin.example.com"
    assert "ETag" in (allowed.header("access-control-expose-headers") or "")
    assert api.get("/health", headers={"Origin": "https://evil.example"}).header("access-control-allow-origin") is None


def test_without_configured_origins_there_are_no_cors_headers(api: Api) -> None:
    response = api.get("/health", headers={"Origin": "https://app.example.com"})
    assert response.status == 200
    assert response.header("access-control-allow-origin") is None


# Response headers every browser lets a page read (Fetch standard, "CORS-safelisted response-header name").
SAFELISTED_RESPONSE_HEADERS = {"cache-control", "content-language", "content-length", "content-type", "expires"}


def test_cors_allows_every_header_the_api_reads_and_exposes_every_header_it_documents() -> None:
    document = create_app().openapi()
    operations = [operation for path in document["paths"].values() for operation in path.values()]
    read = {
        parameter["name"].lower()
        for operation in operations
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    }
    sent = {
        header.lower()
        for operation in operations
        for answer in operation["responses"].values()
        for header in answer.get("headers", {})
    }
    assert read <= {header.lower() for header in ALLOWED_REQUEST_HEADERS}
    assert {"if-match", "idempotency-key"} <= read
    assert sent - SAFELISTED_RESPONSE_HEADERS <= {header.lower() for header in EXPOSED_HEADERS}
    assert {"etag", "location", "link", "retry-after", "ratelimit", "x-request-id", "www-authenticate"} <= sent


def _browser(api: Api, method: str, path: str, token: str, headers: dict[str, str], **kwargs: Any) -> Any:
    """What a browser on an allowed origin does: the preflight for the request's own headers, then the request."""
    origin = {"Origin": "https://app.example.com"}
    preflight = api.request(
        "OPTIONS",
        path,
        headers=origin
        | {
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": ", ".join(["authorization", "content-type", *headers]).lower(),
        },
    )
    assert preflight.status == 200, preflight.body
    allowed = {header.strip().lower() for header in (preflight.header("access-control-allow-headers") or "").split(",")}
    assert {header.lower() for header in headers} <= allowed
    response = api.request(method, path, token=token, headers=origin | headers, **kwargs)
    assert response.header("access-control-allow-origin") == "https://app.example.com"
    return response


def test_a_browser_sends_a_keyed_post_and_a_conditional_patch(cors_api: Api) -> None:
    _, token = cors_api.new_user()
    created = _browser(
        cors_api,
        "POST",
        "/v1/watchlists/items",
        token,
        {"Idempotency-Key": "browser-key-1", "X-Request-ID": "browser-request-1"},
        json={"type": "movie", "title": "Heat"},
    )
    assert created.status == 201, created.body
    exposed = {header.strip().lower() for header in (created.header("access-control-expose-headers") or "").split(",")}
    assert {"location", "etag", "x-request-id", "ratelimit"} <= exposed
    assert created.header("x-request-id") == "browser-request-1"
    changed = _browser(
        cors_api,
        "PATCH",
        created.header("location"),
        token,
        {"If-Match": created.header("etag")},
        json={"status": "watching"},
    )
    assert changed.status == 200, changed.body
    assert changed.header("etag") != created.header("etag")
