"""Whether a request may proceed: rate limits and access-token revocation, with one Redis round trip.

Revocations live in Redis, which may lose its data (a restart without persistence, a failover). Every logout
also ends the token's session in DynamoDB; a token issued before Redis's memory begins is checked against its
session once, then Redis remembers the answer: no DynamoDB read per request in steady state.
"""

from __future__ import annotations

from watchlist_core.errors import AuthenticationError, DependencyUnavailableError, RateLimitedError
from watchlist_core.ratelimit import RatePolicy
from watchlist_core.security.tokens import AccessClaims
from watchlist_core.services.ports import RevokedTokens
from watchlist_core.state.admission import Admission, RedisAdmission
from watchlist_core.storage.sessions import SessionStore


class AdmissionService:
    def __init__(
        self,
        redis: RedisAdmission,
        policies: dict[str, RatePolicy],
        sessions: SessionStore,
        revoked: RevokedTokens,
        *,
        revocation_fails_closed: bool,
    ) -> None:
        self._redis = redis
        self._policies = policies
        self._sessions = sessions
        self._revoked = revoked
        self._fails_closed = revocation_fails_closed

    def admit_user(self, claims: AccessClaims, policy_name: str = "user") -> Admission:
        admission = self._redis.admit_user(claims.user_id, claims.jti, self._policies[policy_name])
        if admission.revoked:
            raise AuthenticationError("The access token has been revoked.")
        if admission.revoked is None and self._fails_closed:
            raise DependencyUnavailableError("Token revocation cannot be checked right now.", retry_after_seconds=5)
        if self._issued_before_redis_remembers(claims, admission):
            self._check_session(claims)
        _enforce(admission)
        return admission

    @staticmethod
    def _issued_before_redis_remembers(claims: AccessClaims, admission: Admission) -> bool:
        """Redis lost its data after this token was issued: a revocation of it may be gone with it."""
        since = admission.remembers_since
        return since is not None and not admission.vouched and claims.issued_at.timestamp() <= since

    def _check_session(self, claims: AccessClaims) -> None:
        """Once per such token: its session, in DynamoDB, decides; Redis remembers the answer."""
        if claims.session_id is None:
            return  # a token from before access tokens named their session: Redis alone decides, as it did
        session = self._sessions.get(claims.session_id)
        # A logout revokes access tokens; a family ended for refresh-token reuse does not (as in steady state).
        if session is None or session.logged_out or session.user_id != claims.user_id:
            self._revoked.revoke(claims.user_id, claims.jti, claims.expires_at)
            raise AuthenticationError("The access token has been revoked.")
        self._revoked.vouch(claims.user_id, claims.jti, claims.expires_at)

    def admit_anonymous(self, client_ip: str, policy_name: str) -> Admission:
        return _enforce(self._redis.admit_anonymous(client_ip, self._policies[policy_name]))


def _enforce(admission: Admission) -> Admission:
    if admission.limit and not admission.limit.allowed:
        raise RateLimitedError("Too many requests; see Retry-After.", limit=admission.limit)
    return admission
