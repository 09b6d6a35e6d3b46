"""Data access for the login throttle's fallback: failed sign-ins per e-mail address, counted in DynamoDB while
Redis cannot count them (state/login_throttle.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist

from watchlist_core.domain import utc_now
from watchlist_core.storage.tables import LoginFailuresRecord
from watchlist_core.storage.transactions import conditional_write

PREFIX = "login-failures#"


@dataclass(frozen=True)
class Failures:
    count: int
    seconds_left: int


class LoginFailureStore:
    """One item per address tried in a window (its key a digest, never the address); expired by DynamoDB's TTL."""

    def current(self, account: str) -> Failures:
        """This window's failures (one consistent read)."""
        try:
            record = LoginFailuresRecord.get(PREFIX + account, consistent_read=True)
        except DoesNotExist:
            return Failures(0, 0)
        seconds_left = int((record.expires_at - utc_now()).total_seconds())
        return Failures(int(record.failures), seconds_left) if seconds_left > 0 else Failures(0, 0)

    def add(self, account: str, window_seconds: int) -> None:
        """One more failure: counted in the current window, or the first of a new one (one write; two when a
        window has just ended)."""
        now = utc_now()
        record = LoginFailuresRecord(session_id=PREFIX + account)
        counted = conditional_write(
            lambda: record.update(
                actions=[LoginFailuresRecord.failures.add(1)], condition=LoginFailuresRecord.expires_at > now
            )
        )
        if not counted:
            record.update(
                actions=[
                    LoginFailuresRecord.failures.set(1),
                    LoginFailuresRecord.expires_at.set(now + timedelta(seconds=window_seconds)),
                ]
            )

    def clear(self, account: str) -> None:
        """The window's failures forgiven: its owner proved who they are another way (a password reset)."""
        LoginFailuresRecord(session_id=PREFIX + account).delete()
