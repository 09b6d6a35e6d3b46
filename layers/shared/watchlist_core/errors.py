"""Domain exceptions: raised where a problem is found, mapped to HTTP once, at the edge."""

from __future__ import annotations

from watchlist_core.ratelimit import RateLimitResult


class DomainError(Exception):
    """Base of every error the domain reports to its callers."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    """The resource does not exist, or is not the caller's to see."""


class ConflictError(DomainError):
    """The request contradicts the current state (a duplicate, the last admin)."""


class RequestInProgressError(ConflictError):
    """A request with the same Idempotency-Key is still being answered; retry shortly."""

    retry_after_seconds = 1


class WrongPasswordError(DomainError):
    """The account's current password, asked for to confirm a change, was wrong (it counts as a failed sign-in)."""


class InvalidTokenError(DomainError):
    """A mailed token (a reset, a verification) that is unknown, used, expired, superseded or for another purpose:
    all alike, and nothing changes."""


class PreconditionFailedError(DomainError):
    """The caller's If-Match version is not the current one."""


class AuthenticationError(DomainError):
    """Credentials or a token are wrong, expired or revoked (or missing: see `MissingCredentialsError`)."""


class MissingCredentialsError(AuthenticationError):
    """The request carries no credentials at all (no bearer token): RFC 6750 section 3.1 then challenges the
    client without an error code, since there is no token to call invalid."""


class PermissionDeniedError(DomainError):
    """Authenticated, but not allowed to do this."""


class InvalidInputError(DomainError):
    """Input that passed the schema but is wrong for this request (a tampered cursor, say)."""

    def __init__(self, detail: str, *, field: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.field = field


class RateLimitedError(DomainError):
    """Over a rate limit; `limit` says which, and when to come back."""

    def __init__(self, detail: str, *, limit: RateLimitResult) -> None:
        super().__init__(detail)
        self.limit = limit


class DependencyUnavailableError(DomainError):
    """A backing service is throttling or down; the caller may retry later."""

    def __init__(self, detail: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(DomainError):
    """A third-party API answered something we cannot use, or could not be reached (502)."""


class UpstreamTimeoutError(DomainError):
    """A third-party API did not answer within our deadline (504)."""
