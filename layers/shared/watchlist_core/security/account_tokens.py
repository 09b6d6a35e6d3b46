"""The tokens an account's mails carry (a password reset, an e-mail verification): 256 random bits from the
operating system's CSPRNG, handed out once and stored only as a digest.

A token reads `<user id>.<secret>`: the id finds the account with one key read, the secret proves the mail was
read. Its digest is keyed by its purpose, so a token minted for one purpose never matches another's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

SECRET_BYTES = 32
_TOKEN = re.compile(r"^([0-9A-HJKMNP-TV-Z]{26})\.([A-Za-z0-9_-]{43})$")


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)
    EMAIL_VERIFICATION = "email_verification"


@dataclass(frozen=True)
class MintedToken:
    token: str  # for the mail only: never stored, logged or queued
    digest: str


@dataclass(frozen=True)
class PresentedToken:
    user_id: str
    secret: str

    def matches(self, purpose: TokenPurpose, digest: str | None) -> bool:
        return digest is not None and hmac.compare_digest(_digest(purpose, self.secret), digest)


def mint(purpose: TokenPurpose, user_id: str) -> MintedToken:
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return MintedToken(f"{user_id}.{secret}", _digest(purpose, secret))


def presented(token: str) -> PresentedToken | None:
    """The parts of a token as a client sent it; None for anything no mint could have made."""
    match = _TOKEN.match(token)
    return PresentedToken(match[1], match[2]) if match else None


def _digest(purpose: TokenPurpose, secret: str) -> str:
    # A plain hash suffices: 256 random bits are not guessable from it, unlike a password.
    return hashlib.sha256(f"{purpose}\0{secret}".encode()).hexdigest()
