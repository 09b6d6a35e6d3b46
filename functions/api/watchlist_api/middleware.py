"""Per-request plumbing as one pure ASGI middleware: stage prefix, request id, body limit, last-resort 500."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchlist_api.problems import problem
from watchlist_api.rate_limit_headers import rate_limit_headers
from watchlist_core import tracing
from watchlist_core.audit.events import RequestOrigin, current_origin
from watchlist_core.audit.message import REQUEST_ID_PATTERN
from watchlist_core.observability import logger
from watchlist_core.settings import get_settings

REQUEST_ID_HEADER = "X-Request-ID"
# Request headers the API reads that a browser sends cross-origin only when the preflight allows them.
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    REQUEST_ID_HEADER,
]
# Response headers a browser client needs to read (CORS hides all but a few by default).
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "X-Request-ID",
    "X-Cache",
    "RateLimit",
    "RateLimit-Policy",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "WWW-Authenticate",
]
_VALID_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


class _BodyTooLargeError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    """Read the whole body up front (Lambda holds it in memory anyway), refusing it past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def stage_prefix(event: dict[str, Any]) -> str:
    """The `/<stage>` the client's URL starts with: present on execute-api URLs, absent on custom domains."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if not stage or stage == "$default":
        return ""
    prefix = "/" + stage
    visible_path = event.get("rawPath") if event.get("version") == "2.0" else context.get("path")
    visible_path = visible_path or ""
    return prefix if visible_path == prefix or visible_path.startswith(prefix + "/") else ""


def gateway_request_id_of(event: dict[str, Any]) -> str | None:
    """The id API Gateway gave the request (`requestContext.requestId`); None outside a gateway's event."""
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    return gateway_id if isinstance(gateway_id, str) and _VALID_REQUEST_ID.match(gateway_id) else None


def choose_request_id(headers: Headers, event: dict[str, Any]) -> str:
    """The client's correlation id when it sent a well-formed one, else the gateway's, else a new one."""
    offered = headers.get(REQUEST_ID_HEADER, "")
    if _VALID_REQUEST_ID.match(offered):
        return offered
    return gateway_request_id_of(event) or str(uuid.uuid4())


def restore_stage_prefix(scope: Scope, event: dict[str, Any]) -> None:
    """Mangum strips the stage from the path; put it back as the root path, so URLs the app builds (Location,
    Link, the problem's `instance`, the docs' OpenAPI URL) are the ones the client used."""
    prefix = stage_prefix(event)
    if not prefix:
        return
    scope["root_path"] = prefix
    if not scope["path"].startswith(prefix + "/") and scope["path"] != prefix:
        scope["path"] = prefix + scope["path"]
        scope["raw_path"] = scope["path"].encode()


# Paths the original Watchlist API's clients call, served as the resource they name: not redirected (Starlette would
# build the redirect from the client's Host header), not a route of their own (one path, one operation, in the
# OpenAPI document and in the routes FastAPI analyses at every cold start).
LEGACY_PATHS = {"/v1/watchlists/": "/v1/watchlists"}


def serve_legacy_path(scope: Scope) -> None:
    root_path = scope.get("root_path", "")
    current = LEGACY_PATHS.get(scope["path"].removeprefix(root_path))
    if current is not None:
        scope["path"] = root_path + current
        scope["raw_path"] = scope["path"].encode()


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then whatever the client sends next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _ResponseStart:
    """The app's `send`, adding the request id and RateLimit headers to the response, and noting its status."""

    def __init__(self, send: Send, scope: Scope, request_id: str) -> None:
        self._send = send
        self._scope = scope
        self._request_id = request_id
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = [
                *message.get("headers", []),
                (REQUEST_ID_HEADER.lower().encode(), self._request_id.encode()),
                *rate_limit_headers(self._scope),
            ]
        await self._send(message)


def log_access(scope: Scope, status: int | None, started: float, source_ip: str) -> None:
    logger.info(
        "request",
        extra={
            "http_method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "source_ip": source_ip,
        },
    )


class RequestContextMiddleware:
    """Every request: the stage prefix restored, a request id chosen (and set for the logs and the audit events'
    origin), the body read within its limit, the request id and RateLimit headers added to the response, an error
    nothing handled answered with a bare 500, and one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        event = scope.get("aws.event") or {}
        restore_stage_prefix(scope, event)
        serve_legacy_path(scope)
        request_id = choose_request_id(Headers(scope=scope), event)
        scope.setdefault("state", {})["request_id"] = request_id
        logger.set_correlation_id(request_id)
        # The ids no client chooses, beside the client's correlation id: API Gateway's, and the trace's.
        gateway_request_id = gateway_request_id_of(event)
        trace_id = tracing.current_trace_id()
        logger.append_keys(gateway_request_id=gateway_request_id, trace_id=trace_id)
        source_ip = (scope.get("client") or ("",))[0]
        origin = current_origin.set(RequestOrigin(request_id, source_ip or None, gateway_request_id, trace_id))
        response = _ResponseStart(send, scope, request_id)
        try:
            await self._serve(scope, receive, response, request_id)
        finally:
            current_origin.reset(origin)
            route = scope.get("route")
            tracing.annotate(
                route=getattr(route, "name", None),
                request_id=request_id,
                gateway_request_id=gateway_request_id,
                **{"http.response.status_code": response.status},
            )
            if response.status is None or response.status >= 500:
                tracing.fail(f"answered {response.status}")
            log_access(scope, response.status, started, source_ip)

    async def _serve(self, scope: Scope, receive: Receive, response: _ResponseStart, request_id: str) -> None:
        """The app, given the body read up front; 413 past the size limit; a bare 500 for an unhandled error."""
        limit = get_settings().max_body_bytes
        try:
            body = await _read_body(receive, limit)
            await self.app(scope, replaying(body, receive), response)
        except _BodyTooLargeError:
            too_large = problem(
                413, instance=scope["path"], request_id=request_id, detail=f"The request body exceeds {limit} bytes."
            )
            await too_large(scope, receive, response)
        except Exception:  # noqa: BLE001 (the last resort: log it, answer a bare 500, never leak it)
            logger.exception("unhandled error")
            if response.status is None:
                await problem(500, instance=scope["path"], request_id=request_id)(scope, receive, response)


class HeadAsGetMiddleware:
    """HEAD is GET without the body (RFC 9110, 9.3.2): routed, limited and cached as GET; the body is dropped
    and its headers, Content-Length included, kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


class CorsMiddleware:
    """Starlette's CORS middleware with the configured origins, built on the first request: the app reads no
    configuration at import. With no origins configured, requests pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._inner is None:
            origins = get_settings().cors_origins
            self._inner = (
                CORSMiddleware(
                    self.app,
                    allow_origins=origins,
                    allow_methods=["GET", "POST", "PATCH", "DELETE"],
                    allow_headers=ALLOWED_REQUEST_HEADERS,
                    expose_headers=EXPOSED_HEADERS,
                    max_age=600,
                )
                if origins
                else self.app
            )
        await self._inner(scope, receive, send)
