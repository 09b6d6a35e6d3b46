"""The OpenAPI document, honest about every answer: FastAPI documents each route's success and its own 422; this
adds what the app's shared machinery gives every route (problem responses, rate limits, conditional requests,
the request id), by rules that read the route itself. Built on the first request for it, never at start.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from watchlist_api.problems import PROBLEM_JSON

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 (a path, not a secret)
UNLIMITED_PATHS = {"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
CACHED_PREFIXES = ("/v1/watchlists", "/v1/auth/me", "/v1/admin", "/v1/external")
EXPORT_PATH = "/v1/auth/me/export"  # under /v1/auth/me, but never cached: `Cache-Control: no-store`

_TEXT = {"type": "string"}
_INTEGER = {"type": "integer"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "request_id"],
    "properties": {
        "type": _TEXT,
        "title": _TEXT,
        "status": _INTEGER,
        "detail": _TEXT,
        "instance": _TEXT,
        "request_id": _TEXT,
        "error": {
            "type": "string",
            "description": "/v1/auth/token only: RFC 6749 (5.2)'s error code, which OAuth2 clients read.",
            "enum": ["invalid_request", "invalid_grant", "unsupported_grant_type"],
        },
        "error_description": {"type": "string", "description": "/v1/auth/token only: RFC 6749 (5.2)."},
        "errors": {
            "type": "array",
            "description": "422 only: what is wrong with the request, never the rejected value.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [_TEXT, _INTEGER]}},
                    "msg": _TEXT,
                    "type": _TEXT,
                },
            },
        },
    },
}
HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "X-Request-ID": ("The client's own id when it is valid, else a new one; in every log line of the request.", _TEXT),
    "Retry-After": ("Seconds to wait before trying again.", _INTEGER),
    "RateLimit-Policy": ('The policy, e.g. `"user";q=100;w=60` (draft-ietf-httpapi-ratelimit-headers-11).', _TEXT),
    "RateLimit": ('What is left of it, e.g. `"user";r=97;t=42`.', _TEXT),
    "X-RateLimit-Limit": ("Requests allowed in the window.", _INTEGER),
    "X-RateLimit-Remaining": ("Requests left in the window.", _INTEGER),
    "X-RateLimit-Reset": ("Seconds until the window resets.", _INTEGER),
    "ETag": ("The representation's version; send it in If-None-Match (reads) or If-Match (writes).", _TEXT),
    "Cache-Control": ("`private, no-cache`: revalidate with If-None-Match.", _TEXT),
    "X-Cache": ("`HIT` when served from the server-side cache, else `MISS`.", _TEXT),
    "Link": ('`<...>; rel="next"` when there is a next page.', _TEXT),
    "Location": ("The new item's URL.", _TEXT),
    "WWW-Authenticate": ("`Bearer`, with the error when a token was given.", _TEXT),
}
RATE_LIMIT_HEADERS = (
    "RateLimit-Policy",
    "RateLimit",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"description": HEADERS[name][0], "schema": HEADERS[name][1]} for name in names}


def _problem(status: int, description: str | None = None, *headers: str) -> dict[str, Any]:
    return {
        "description": description or HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "headers": _headers("X-Request-ID", *headers),
    }


# Anyone's: they redeem a mailed token.
TOKEN_REDEEMING_PATHS = {"/v1/auth/password/reset", "/v1/auth/verification/confirm"}


def _answers(path: str, method: str, operation: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The problem responses this operation can give besides its own, by what the route does."""
    limited = path not in UNLIMITED_PATHS
    bearer = bool(operation.get("security"))
    answers: dict[int, dict[str, Any]] = {}
    if operation.get("requestBody"):
        answers[400] = _problem(400, "The body is not valid JSON, or a form field is repeated.")
        answers[413] = _problem(413, "The body exceeds 64 KiB.")
    if path == TOKEN_PATH:  # an OAuth2 token endpoint: every refusal of the request or the grant is a 400
        answers[400] = _problem(
            400,
            "RFC 6749 (5.2): `error` is invalid_request, invalid_grant (wrong credentials) or unsupported_grant_type.",
        )
    elif operation.get("requestBody") or operation.get("parameters"):
        answers[422] = _problem(422, "The request is not valid; see `errors`.")
    if path == "/v1/auth/password" or (method, path) in {("patch", "/v1/auth/me"), ("delete", "/v1/auth/me")}:
        answers[400] = _problem(400, "The current password is wrong (a failed sign-in), or the body is not valid JSON.")
    if path in TOKEN_REDEEMING_PATHS:
        answers[400] = _problem(
            400,
            "The token is unknown, used, expired, replaced or for another purpose (nothing changed), or the body is "
            "not valid JSON.",
        )
    if bearer or path in {"/v1/auth/login", "/v1/auth/refresh"}:
        answers[401] = _problem(
            401, "No valid token (or, on login and refresh, no valid credentials).", "WWW-Authenticate"
        )
    if path.startswith("/v1/admin"):
        answers[403] = _problem(403, "Authenticated, but not an admin.")
    if method in {"post", "patch", "delete"} and path.startswith("/v1/watchlists/items"):
        answers[403] = _problem(403, "With REQUIRE_VERIFIED_EMAIL set: the account's address is not confirmed yet.")
    if "{" in path:
        answers[404] = _problem(404, "No such resource of yours.")
    if method in {"patch", "delete"} and path.startswith("/v1/watchlists/items"):
        answers[412] = _problem(412, "If-Match names a version that is no longer current; nothing changed.")
    if (
        method in {"post", "patch", "delete"} and path.startswith(("/v1/watchlists", "/v1/admin", "/v1/auth/register"))
    ) or (method in {"patch", "delete"} and path == "/v1/auth/me"):
        answers[409] = _problem(
            409,
            "A conflicting change (a taken e-mail, the last admin, a concurrent write), or a request with the same "
            "Idempotency-Key still in progress (then with Retry-After).",
            "Retry-After",
        )
    if path == EXPORT_PATH:
        answers[507] = _problem(507, "The export exceeds the 6 MB one answer can carry; asking again will not help.")
    if limited:
        answers[429] = _problem(429, "Too many requests; see Retry-After.", "Retry-After", *RATE_LIMIT_HEADERS)
        answers[503] = _problem(503, "A dependency is unavailable or busy; see Retry-After.", "Retry-After")
    return answers


def _cached(path: str, method: str) -> bool:
    """Whether the operation's answers come from (or go to) the response cache, with ETag and 304."""
    return method == "get" and path.startswith(CACHED_PREFIXES) and path != EXPORT_PATH


def _success_headers(path: str, method: str, status: int) -> dict[str, Any]:
    names = ["X-Request-ID"]
    if path not in UNLIMITED_PATHS:
        names += RATE_LIMIT_HEADERS
    if _cached(path, method) or (method == "patch" and path.startswith(CACHED_PREFIXES)) or status == 201:
        names += ["ETag", "Cache-Control"]
    if _cached(path, method):
        names += ["X-Cache", "Link"] if "{item_id}" not in path else ["X-Cache"]
    if status == 201 and path.startswith("/v1/watchlists"):
        names.append("Location")
    return _headers(*names)


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(_success_headers(path, method, int(status)))
    for code, problem in _answers(path, method, operation).items():
        own = responses.get(str(code), {})
        if code != 422 and PROBLEM_JSON not in own.get("content", {PROBLEM_JSON: None}):
            continue  # the route's own answer in its own form, e.g. the readiness report with its 503
        responses[str(code)] = problem | ({"description": own["description"]} if "description" in own else {})
    for status, response in list(responses.items()):
        if int(status) >= 400 and "content" not in response:  # an error the route names without its form
            responses[status] = _problem(int(status), response.get("description"))
    if _cached(path, method):
        responses["304"] = {
            "description": "Not Modified: If-None-Match names the current ETag.",
            "headers": _headers("X-Request-ID", "ETag", "Cache-Control"),
        }


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (FastAPI's) with every response each operation can give."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _complete_operation(path, method, operation)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body: ours is a problem
        schemas.pop(unused, None)
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = complete(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
