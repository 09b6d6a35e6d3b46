"""HS256 JSON Web Tokens: short-lived access tokens and rotating refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watchlist_core.domain import Role, utc_now
from watchlist_core.errors import AuthenticationError
from watchlist_core.security.secrets import secret_loader
from watchlist_core.settings import MIN_SECRET_BYTES, ConfigurationError, Settings

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
DEVICE = "device"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "sid", "iss", "aud", "typ"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    role: Role
    jti: str
    expires_at: datetime
    issued_at: datetime
    session_id: str  # every access token of a session ends with it (a logout, a refresh token reused)
    email_verified: bool = False  # as the account was when the token was issued (a refresh reads it again)


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    session_id: str
    jti: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime
    issued_at: datetime


def new_token_id() -> str:
    return uuid.uuid4().hex


class TokenSigner:
    def __init__(self, settings: Settings, signing_key: Callable[[], str]) -> None:
        self._settings = settings
        self._signing_key = signing_key

    # Given the same `jti` and `issued_at`, the same token again (HS256 signatures are deterministic): a refresh
    # retried within the grace period gets back the pair the first attempt issued, without it being stored.
    def issue_access(
        self,
        user_id: str,
        role: Role,
        session_id: str,
        jti: str | None = None,
        issued_at: datetime | None = None,
        *,
        email_verified: bool = False,
    ) -> IssuedToken:
        extra: dict[str, Any] = {"role": role.value, "sid": session_id, "ev": email_verified}
        return self._issue(ACCESS, user_id, self._settings.access_token_ttl_seconds, extra, jti, issued_at)

    def issue_refresh(
        self, user_id: str, session_id: str, jti: str | None = None, issued_at: datetime | None = None
    ) -> IssuedToken:
        ttl = self._settings.refresh_token_ttl_seconds
        return self._issue(REFRESH, user_id, ttl, {"sid": session_id}, jti, issued_at)

    def issue_device(self, account: str) -> IssuedToken:
        """A device token (OWASP's device cookie): proof that this client signed in to `account` (the login
        throttle's digest of the e-mail address) before. Stateless; its id names it in the throttle's lockout."""
        device_id = new_token_id()
        ttl = self._settings.device_token_ttl_seconds
        return self._issue(DEVICE, account, ttl, {"sid": device_id}, device_id, None)

    def device_of(self, token: str | None, account: str) -> str | None:
        """The id of `token` when it is a valid device token of `account`; None for anything else, which only
        makes the client as untrusted as one that sent none."""
        if not token:
            return None
        try:
            claims = self._verify(token, DEVICE)
        except AuthenticationError:
            return None
        return claims["jti"] if hmac.compare_digest(claims["sub"], account) else None

    def verify_access(self, token: str) -> AccessClaims:
        claims = self._verify(token, ACCESS)
        try:
            role = Role(str(claims.get("role")))
        except ValueError as error:
            raise AuthenticationError("The access token is invalid.") from error
        return AccessClaims(
            claims["sub"],
            role,
            claims["jti"],
            expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
            issued_at=datetime.fromtimestamp(claims["iat"], tz=UTC),
            session_id=claims["sid"],
            email_verified=claims.get("ev") is True,
        )

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._verify(token, REFRESH)
        return RefreshClaims(claims["sub"], claims["sid"], claims["jti"])

    def keyed_digest(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 of `value` under the signing secret: stored where a plain hash of `value` (a password) could
        be guessed from, and only this API can compute it."""
        message = f"{purpose}\0{value}".encode()
        return hmac.new(self._signing_key().encode(), message, hashlib.sha256).hexdigest()

    def _issue(
        self,
        kind: str,
        user_id: str,
        ttl_seconds: int,
        extra: dict[str, Any],
        jti: str | None,
        issued_at: datetime | None,
    ) -> IssuedToken:
        issued_at = issued_at or utc_now()
        expires_at = issued_at + timedelta(seconds=ttl_seconds)
        jti = jti or new_token_id()
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": user_id,
            "iat": issued_at,
            "exp": expires_at,
            "jti": jti,
            "typ": kind,
            **extra,
        }
        import jwt  # PyJWT on the first token issued or read: a cold start's GET /health imports none of it

        return IssuedToken(jwt.encode(claims, self._signing_key(), algorithm=ALGORITHM), jti, expires_at, issued_at)

    def _verify(self, token: str, kind: str) -> dict[str, Any]:
        import jwt  # as in _issue

        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key(),
                algorithms=[ALGORITHM],  # pinned: `alg: none` and algorithm confusion are refused
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationError(f"The {kind} token has expired.") from error
        except jwt.PyJWTError as error:
            raise AuthenticationError(f"The {kind} token is invalid.") from error
        if claims["typ"] != kind or not all(isinstance(claims.get(name), str) for name in ("sub", "jti", "sid")):
            raise AuthenticationError(f"The {kind} token is invalid.")
        return claims


def checked_signing_key(settings: Settings) -> str:
    """The signing secret, from JWT_SECRET or fetched from Secrets Manager by JWT_SECRET_ARN. Missing, empty or
    shorter than MIN_SECRET_BYTES, it is refused: there is no fallback key to sign with instead."""
    secret = secret_loader(settings.aws_region, settings.jwt_secret, settings.jwt_secret_arn)()
    if not secret or len(secret.encode()) < MIN_SECRET_BYTES:
        source = f"the secret {settings.jwt_secret_arn}" if settings.jwt_secret_arn else "JWT_SECRET"
        raise ConfigurationError(
            f"No usable token signing key: {source} must hold at least {MIN_SECRET_BYTES} bytes "
            "(locally, make dev, make sam-local and docker compose generate one)"
        )
    return secret
