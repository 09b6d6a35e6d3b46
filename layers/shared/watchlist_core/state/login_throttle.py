"""Password guessing, throttled without letting a stranger lock the owner out (OWASP Authentication Cheat Sheet).

- Per account and address: after `per_address.quota` failures within its window, that address takes no more
  guesses for that account for the window, twice as long at each further lockout within a day (progressive),
  up to a day. Other addresses, the owner's among them, are not affected.
- Per account, from every address: past a higher ceiling (`per_account`), only addresses that signed in to the
  account successfully within the last `known_address_days` may try; every other address is refused. A
  distributed guesser is stopped; the owner, at a known address, still signs in.

Unknown e-mail addresses are counted the same way, so a refusal reveals nothing about which accounts exist. Keys
hold digests, never addresses; every key expires. Redis unavailable: fail open (the per-address login rate limit
still applies).
"""

from __future__ import annotations

import hashlib

from watchlist_core.ratelimit import RateLimitResult, RatePolicy
from watchlist_core.state import keys
from watchlist_core.state.client import RedisState, Slot

MAX_LOCK_SECONDS = 24 * 3600


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class RedisLoginThrottle:
    def __init__(
        self, state: RedisState, per_address: RatePolicy, per_account: RatePolicy, known_address_days: int
    ) -> None:
        self._state = state
        self.per_address = per_address
        self.per_account = per_account
        self._known_seconds = known_address_days * 86400

    def _keys(self, email: str, address: str) -> dict[str, str]:
        account = keys.login_account(_digest(email))
        source = _digest(address)
        return {
            "failures": f"{account}f:{source}",
            "lock": f"{account}lock:{source}",
            "strikes": f"{account}strikes:{source}",
            "account_failures": f"{account}f",
            "known": f"{account}known",
            "source": source,
        }

    def refusal(self, email: str, address: str) -> RateLimitResult | None:
        """Why this address may not try a password for this account now, or None when it may (or Redis is away)."""
        names = self._keys(email, address)

        def read(slot: Slot) -> RateLimitResult | None:
            pipe = slot.pipeline()
            pipe.ttl(names["lock"])
            pipe.get(names["account_failures"])
            pipe.ttl(names["account_failures"])
            pipe.sismember(names["known"], names["source"])
            locked_for, account_failures, account_window_left, known = slot.execute(pipe)
            if locked_for > 0:
                return _refused(self.per_address, locked_for)
            if int(account_failures or 0) >= self.per_account.quota and not known:
                return _refused(self.per_account, max(1, account_window_left))
            return None

        return self._state.run("login_throttle", names["lock"], read)

    def failed(self, email: str, address: str) -> None:
        names = self._keys(email, address)

        def count(slot: Slot) -> None:
            pipe = slot.pipeline()
            # SET NX with the expiry first: a counter never exists without one, even if INCR's reply is lost.
            pipe.set(names["failures"], 0, ex=self.per_address.window_seconds, nx=True)
            pipe.incr(names["failures"])
            pipe.set(names["account_failures"], 0, ex=self.per_account.window_seconds, nx=True)
            pipe.incr(names["account_failures"])
            failures = slot.execute(pipe)[1]
            if failures < self.per_address.quota:
                return
            pipe = slot.pipeline()
            pipe.incr(names["strikes"])
            pipe.expire(names["strikes"], MAX_LOCK_SECONDS)
            strikes = slot.execute(pipe)[0]
            lock_seconds = min(self.per_address.window_seconds * 2 ** (strikes - 1), MAX_LOCK_SECONDS)
            pipe = slot.pipeline()
            pipe.set(names["lock"], 1, ex=lock_seconds)
            pipe.delete(names["failures"])
            slot.execute(pipe)

        self._state.run("login_throttle", names["lock"], count)

    def succeeded(self, email: str, address: str) -> None:
        """The address's failures are forgiven, and it is known to the account from now on."""
        names = self._keys(email, address)

        def remember(slot: Slot) -> None:
            pipe = slot.pipeline()
            pipe.delete(names["failures"], names["strikes"])
            pipe.sadd(names["known"], names["source"])
            pipe.expire(names["known"], self._known_seconds)
            slot.execute(pipe)

        self._state.run("login_throttle", names["lock"], remember)


def _refused(policy: RatePolicy, seconds: int) -> RateLimitResult:
    return RateLimitResult(policy, allowed=False, remaining=0, reset_seconds=seconds, retry_after_seconds=seconds)
