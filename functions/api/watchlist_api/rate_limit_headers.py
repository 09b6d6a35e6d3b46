"""The RateLimit response headers. What Redis counted for a request is attached to it where it is known (the
admission dependencies, the refusal's problem handler) and written into the response by the middleware: the one
channel between them, both ends here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

from watchlist_core.ratelimit import RateLimitResult

_STATE_KEY = "rate_limit"


def attach_rate_limit(request: Request, limit: RateLimitResult | None) -> None:
    """The headers of this request's response will state `limit` (None: Redis could not count it, no headers)."""
    request.scope.setdefault("state", {})[_STATE_KEY] = limit


def rate_limit_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """draft-ietf-httpapi-ratelimit-headers-11, and the legacy X-RateLimit-* trio, for the limit attached to the
    request; none when nothing was attached (a route without a limit, or Redis unavailable)."""
    limit: RateLimitResult | None = scope.get("state", {}).get(_STATE_KEY)
    if limit is None:
        return []
    policy = limit.policy
    headers = {
        "RateLimit-Policy": f'"{policy.name}";q={policy.quota};w={policy.window_seconds}',
        "RateLimit": f'"{policy.name}";r={limit.remaining};t={limit.reset_seconds}',
        "X-RateLimit-Limit": str(policy.quota),
        "X-RateLimit-Remaining": str(limit.remaining),
        "X-RateLimit-Reset": str(limit.reset_seconds),
    }
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]
