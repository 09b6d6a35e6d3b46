"""Access-token revocation, as the auth service sees it; kept in Redis (state/gate.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from watchlist_core.ratelimit import RateLimitResult


class RevokedTokens(Protocol):
    def revoke(self, user_id: str, jti: str, until: datetime) -> bool:
        """Record `jti` as revoked until `until`; False when it could not be recorded."""
        ...


class LoginThrottle(Protocol):
    """Password guessing, counted per account and client address (state/login_throttle.py)."""

    def refusal(self, email: str, address: str) -> RateLimitResult | None:
        """Why this address may not try a password for this account now; None when it may."""
        ...

    def failed(self, email: str, address: str) -> None: ...

    def succeeded(self, email: str, address: str) -> None: ...
