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
from watchlist_core.audit import RequestOrigin, current_origin
from watchlist_core.observability import logger
from watchlist_core.settings import get_settings

REQUEST_ID_HEADER = "X-Request-ID"
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
]
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


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


def choose_request_id(headers: Headers, event: dict[str, Any]) -> str:
    offered = headers.get(REQUEST_ID_HEADER, "")
    if _VALID_REQUEST_ID.match(offered):
        return offered
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(gateway_id, str) and _VALID_REQUEST_ID.match(gateway_id):
        return gateway_id
    return str(uuid.uuid4())


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event = scope.get("aws.event") or {}
        prefix = stage_prefix(event)
        if prefix:
            scope["root_path"] = prefix
            if not scope["path"].startswith(prefix + "/") and scope["path"] != prefix:
                scope["path"] = prefix + scope["path"]
                scope["raw_path"] = scope["path"].encode()
        headers = Headers(scope=scope)
        request_id = choose_request_id(headers, event)
        scope.setdefault("state", {})["request_id"] = request_id
        logger.set_correlation_id(request_id)
        source_ip = (scope.get("client") or ("",))[0]
        origin = current_origin.set(RequestOrigin(request_id, source_ip or None))
        started = time.perf_counter()
        response: dict[str, Any] = {"status": None}

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                    *rate_limit_headers(scope),
                ]
            await send(message)

        def fail(status: int, detail: str | None = None) -> Any:
            return problem(status, instance=scope["path"], request_id=request_id, detail=detail)

        limit = get_settings().max_body_bytes
        try:
            body = await _read_body(receive, limit)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send_with_request_id)
        except _BodyTooLargeError:
            await fail(413, f"The request body exceeds {limit} bytes.")(scope, receive, send_with_request_id)
        except Exception:  # noqa: BLE001 (the last resort: log it, answer a bare 500, never leak it)
            logger.exception("unhandled error")
            if response["status"] is None:
                await fail(500)(scope, receive, send_with_request_id)
        finally:
            current_origin.reset(origin)
            logger.info(
                "request",
                extra={
                    "http_method": scope["method"],
                    "path": scope["path"],
                    "status": response["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "source_ip": source_ip,
                },
            )


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
                    allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
                    expose_headers=EXPOSED_HEADERS,
                    max_age=600,
                )
                if origins
                else self.app
            )
        await self._inner(scope, receive, send)
