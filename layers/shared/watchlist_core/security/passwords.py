"""argon2id password hashing through passlib (the maintained `libpass` distribution)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from watchlist_core.settings import Settings

if TYPE_CHECKING:
    from passlib.context import CryptContext


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _context(self) -> CryptContext:
        # Imported on first use: only the auth endpoints hash, so other cold starts skip passlib.
        from passlib.context import CryptContext

        return CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=self._settings.argon2_memory_kib,
            argon2__rounds=self._settings.argon2_time_cost,
            argon2__parallelism=self._settings.argon2_parallelism,
        )

    @cached_property
    def _decoy_hash(self) -> str:
        return str(self._context.hash("decoy password for unknown accounts"))

    def hash(self, password: str) -> str:
        return str(self._context.hash(password))

    def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Check a password; also return a new hash when the stored one uses outdated parameters.

        With no stored hash (unknown account) it verifies against a decoy, so an unknown e-mail
        address costs the same time as a wrong password and reveals nothing.
        """
        if password_hash is None:
            self._context.verify(password, self._decoy_hash)
            return False, None
        valid, new_hash = self._context.verify_and_update(password, password_hash)
        return bool(valid), new_hash
