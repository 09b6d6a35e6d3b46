"""What the services need from outside the domain, as protocols, all in one place: the Redis, SQS and GitHub
adapters (state/, queues.py, external/github.py) implement them; tests may stand in for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from watchlist_core.audit.message import AuditEvent
    from watchlist_core.external.github import UserAnswer
    from watchlist_core.ratelimit import RateLimitResult


class RevokedTokens(Protocol):
    """Access-token revocations (state/revocations.py)."""

    def revoke(self, user_id: str, jti: str, until: datetime) -> bool:
        """Record `jti` as revoked until `until`; False when it could not be recorded."""
        ...

    def vouch(self, user_id: str, jti: str, until: datetime) -> None:
        """The token's session was found live: no need to ask DynamoDB again for this token."""
        ...


class LoginThrottle(Protocol):
    """Password guessing, counted per account and client address (state/login_throttle.py)."""

    def refusal(self, email: str, address: str) -> RateLimitResult | None:
        """Why this address may not try a password for this account now; None when it may."""
        ...

    def failed(self, email: str, address: str) -> None: ...

    def succeeded(self, email: str, address: str) -> None: ...


class DataChangeListener(Protocol):
    """Told when a user's data changed (the response cache, state/cache.py)."""

    def user_data_changed(self, user_id: str) -> None: ...


class AuditPublisher(Protocol):
    """The audit queue (queues.py)."""

    def send(self, event: AuditEvent) -> bool: ...

    def send_batch(self, events: Sequence[AuditEvent]) -> set[str]: ...


class GitHubUsers(Protocol):
    """GitHub's users API (external/github.py)."""

    async def user(self, username: str, etag: str | None = None) -> UserAnswer: ...
