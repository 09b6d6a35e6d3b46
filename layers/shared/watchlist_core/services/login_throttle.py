"""The login throttle, holding through a Redis outage: Redis counts (state/login_throttle.py); while it cannot,
DynamoDB counts each address's failures from untrusted clients against the account-wide ceiling
(storage/login_failures.py). A device token of the account still passes: the owner is never locked out."""

from __future__ import annotations

from watchlist_core.ratelimit import RatePolicy
from watchlist_core.state.login_throttle import LoginAttempt, LoginCheck, RedisLoginCounters, refused
from watchlist_core.storage.login_failures import LoginFailureStore


class LoginThrottle:
    def __init__(self, counters: RedisLoginCounters, fallback: LoginFailureStore, per_account: RatePolicy) -> None:
        self._counters = counters
        self._fallback = fallback
        self._per_account = per_account

    def check(self, attempt: LoginAttempt) -> LoginCheck:
        """Whether this client may try a password for this account now, and whether it is trusted."""
        counted = self._counters.check(attempt)
        if counted is not None:
            return counted
        if attempt.device:  # its lockout lives in Redis: while Redis is away, a device token of the account passes
            return LoginCheck(None, trusted=True)
        failures = self._fallback.current(attempt.account)
        if failures.count >= self._per_account.quota:
            return LoginCheck(refused(self._per_account, failures.seconds_left), trusted=False)
        return LoginCheck(None, trusted=False)

    def failed(self, attempt: LoginAttempt, check: LoginCheck) -> None:
        if not self._counters.failed(attempt, check.trusted):
            self._fallback.add(attempt.account, self._per_account.window_seconds)

    def succeeded(self, attempt: LoginAttempt) -> None:
        self._counters.succeeded(attempt)

    def recovered(self, account: str) -> None:
        """The owner proved they hold the account's mailbox (a password reset): strangers' guesses so far no longer
        hold back any client of theirs, on a new device from a new address too."""
        self._counters.recovered(account)
        self._fallback.clear(account)
