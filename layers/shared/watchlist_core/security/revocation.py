"""Access-token revocation, as the auth service sees it; kept in Redis (state/gate.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from watchlist_core.ratelimit import RatePolicy


class RevokedTokens(Protocol):
    def revoke(self, user_id: str, jti: str, until: datetime) -> bool:
        """Record `jti` as revoked until `until`; False when it could not be recorded."""
        ...


class LoginThrottle(Protocol):
    """Failed logins per account within the window of `policy`."""

    policy: RatePolicy

    def current(self, email: str) -> tuple[int, int] | None: ...

    def record(self, email: str) -> None: ...

    def clear(self, email: str) -> None: ...
