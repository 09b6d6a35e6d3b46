"""Password guessing, counted in Redis, without letting a stranger lock the owner out (OWASP's device cookies).

A client that signed in to an account before holds a device token for it (security/tokens.py): it is trusted, and
nobody else's failures hold it back, whatever its address. Its own failures are counted per device: after
`per_address.quota` of them within the window the token is locked out, and the client is as untrusted as any.
Untrusted clients:

- per account and address: after `per_address.quota` failures within its window, that address takes no more
  guesses for that account for the window, twice as long at each further lockout within a day (progressive), up
  to a day;
- per account, from every untrusted address together: past `per_account.quota` failures within its window, every
  untrusted client is refused. A distributed guesser is stopped; the owner signs in with their device token, or
  from a new device after an e-mailed reset.

Accounts are named by a keyed digest of the e-mail address, unknown addresses alike, so a refusal reveals nothing
about which accounts exist and Redis holds no address. Every key expires and lives in the account's slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchlist_core.ratelimit import RateLimitResult, RatePolicy
from watchlist_core.state import keys
from watchlist_core.state.client import RedisState, Slot

if TYPE_CHECKING:
    from redis.client import Pipeline

MAX_LOCK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LoginAttempt:
    account: str  # a keyed digest of the normalised e-mail address
    address: str  # the client's
    device: str | None  # the id of a valid device token of this account, when the client presented one


@dataclass(frozen=True)
class LoginCheck:
    refusal: RateLimitResult | None
    trusted: bool  # a device token of the account that is not locked out


def refused(policy: RatePolicy, seconds: int) -> RateLimitResult:
    return RateLimitResult(policy, allowed=False, remaining=0, reset_seconds=seconds, retry_after_seconds=seconds)


def _increment(pipe: Pipeline, key: str, policy: RatePolicy) -> None:
    # SET NX with the expiry first: a counter never exists without one, even if INCR's reply is lost.
    pipe.set(key, 0, ex=policy.window_seconds, nx=True)
    pipe.incr(key)


def _account_failures(account: str) -> str:
    """The count of untrusted clients' failures against the account, the ceiling's."""
    return keys.login_account(account) + "f"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class RedisLoginCounters:
    """Each method returns None (or False) when Redis could not answer: the caller falls back (services)."""

    def __init__(self, state: RedisState, per_address: RatePolicy, per_account: RatePolicy) -> None:
        self._state = state
        self._per_address = per_address
        self._per_account = per_account

    @staticmethod
    def _keys(attempt: LoginAttempt) -> dict[str, str]:
        account = keys.login_account(attempt.account)
        source = _digest(attempt.address)
        device = attempt.device or ""
        return {
            "failures": f"{account}f:{source}",
            "lock": f"{account}lock:{source}",
            "strikes": f"{account}strikes:{source}",
            "account_failures": _account_failures(attempt.account),
            "device_failures": f"{account}df:{device}",
            "device_lock": f"{account}dlock:{device}",
        }

    def check(self, attempt: LoginAttempt) -> LoginCheck | None:
        names = self._keys(attempt)

        def read(slot: Slot) -> LoginCheck:
            pipe = slot.pipeline()
            pipe.ttl(names["lock"])
            pipe.get(names["account_failures"])
            pipe.ttl(names["account_failures"])
            if attempt.device:
                pipe.exists(names["device_lock"])
            locked_for, account_failures, account_window_left, *device_locked = slot.execute(pipe)
            if device_locked == [0]:  # a device token, not locked out
                return LoginCheck(None, trusted=True)
            if locked_for > 0:
                return LoginCheck(refused(self._per_address, locked_for), trusted=False)
            if int(account_failures or 0) >= self._per_account.quota:
                return LoginCheck(refused(self._per_account, max(1, account_window_left)), trusted=False)
            return LoginCheck(None, trusted=False)

        return self._state.run("login_throttle", names["lock"], read)

    def failed(self, attempt: LoginAttempt, trusted: bool) -> bool:
        names = self._keys(attempt)

        def count_device(slot: Slot) -> bool:
            pipe = slot.pipeline()
            _increment(pipe, names["device_failures"], self._per_address)
            if slot.execute(pipe)[1] >= self._per_address.quota:
                pipe = slot.pipeline()
                pipe.set(names["device_lock"], 1, ex=self._per_address.window_seconds)
                pipe.delete(names["device_failures"])
                slot.execute(pipe)
            return True

        def count_untrusted(slot: Slot) -> bool:
            pipe = slot.pipeline()
            _increment(pipe, names["failures"], self._per_address)
            _increment(pipe, names["account_failures"], self._per_account)
            if slot.execute(pipe)[1] < self._per_address.quota:
                return True
            pipe = slot.pipeline()
            pipe.incr(names["strikes"])
            pipe.expire(names["strikes"], MAX_LOCK_SECONDS)
            strikes = slot.execute(pipe)[0]
            lock_seconds = min(self._per_address.window_seconds * 2 ** (strikes - 1), MAX_LOCK_SECONDS)
            pipe = slot.pipeline()
            pipe.set(names["lock"], 1, ex=lock_seconds)
            pipe.delete(names["failures"])
            slot.execute(pipe)
            return True

        return bool(self._state.run("login_throttle", names["lock"], count_device if trusted else count_untrusted))

    def succeeded(self, attempt: LoginAttempt) -> None:
        """The address's and the device's failures are forgiven."""
        names = self._keys(attempt)

        def forgive(slot: Slot) -> None:
            pipe = slot.pipeline()
            pipe.delete(names["failures"], names["strikes"], names["device_failures"])
            slot.execute(pipe)

        self._state.run("login_throttle", names["lock"], forgive)

    def recovered(self, account: str) -> bool:
        """Every untrusted failure counted against the account (its ceiling) forgiven; False when Redis could not be
        told."""
        account_failures = _account_failures(account)

        def forgive(slot: Slot) -> bool:
            slot.commands.delete(account_failures)
            return True

        return bool(self._state.run("login_throttle", account_failures, forgive))
