"""Access-token revocation: the seam that the Redis-backed denylist plugs into.

Until the shared Redis store arrives, revocations are kept per process: immediate on the instance
that served the logout, and on others only once the (short-lived) access token expires.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from watchlist_core.domain import utc_now


class RevokedTokens(Protocol):
    def revoke(self, jti: str, until: datetime) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


class InProcessRevokedTokens:
    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def revoke(self, jti: str, until: datetime) -> None:
        with self._lock:
            now = utc_now()
            self._until = {key: end for key, end in self._until.items() if end > now}
            self._until[jti] = until

    def is_revoked(self, jti: str) -> bool:
        end = self._until.get(jti)
        return end is not None and end > utc_now()
