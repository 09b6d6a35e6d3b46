"""Whether a request may proceed: rate limits and the end of the token's session, with one Redis round trip.

Ended sessions live in Redis, which may lose its data (a restart without persistence, a primary replaced without a
replica), all of it or one shard's. Every session end is also recorded in DynamoDB; a token issued before its
partition's memory begins is checked against its session once, then Redis remembers the answer: no DynamoDB read
per request in steady state. While the caller's shard cannot answer at all, DynamoDB decides every request (one
consistent read each): an ended session stays ended through an outage.
"""

from __future__ import annotations

from watchlist_core.errors import AuthenticationError, DependencyUnavailableError, RateLimitedError
from watchlist_core.ratelimit import RatePolicy
from watchlist_core.security.tokens import AccessClaims, RefreshClaims
from watchlist_core.services.ports import EndedSessions
from watchlist_core.state import keys
from watchlist_core.state.admission import Admission, RedisAdmission
from watchlist_core.storage.sessions import SessionStore

REVOKED = "The access token has been revoked: its session has ended."


class AdmissionService:
    def __init__(
        self,
        redis: RedisAdmission,
        policies: dict[str, RatePolicy],
        sessions: SessionStore,
        ended_sessions: EndedSessions,
        *,
        revocation_fails_closed: bool,
    ) -> None:
        self._redis = redis
        self._policies = policies
        self._sessions = sessions
        self._ended_sessions = ended_sessions
        self._fails_closed = revocation_fails_closed  # REVOCATION_FAIL_MODE=closed: 503 rather than ask DynamoDB

    def admit_user(self, claims: AccessClaims, policy_names: tuple[str, ...] = ("user",)) -> Admission:
        """Counted against every named policy (a write also against the daily `writes` quota)."""
        policies = [self._policies[name] for name in policy_names]
        admission = self._redis.admit_user(claims.user_id, claims.session_id, policies)
        if admission.session_ended:
            raise AuthenticationError(REVOKED)
        if admission.session_ended is None:  # Redis could not answer
            if self._fails_closed:
                raise DependencyUnavailableError("Token revocation cannot be checked right now.", retry_after_seconds=5)
            self._require_live_session(claims)
        elif self._issued_before_redis_remembers(claims, admission):
            self._check_session(claims)
        _enforce(admission)
        return admission

    @staticmethod
    def _issued_before_redis_remembers(claims: AccessClaims, admission: Admission) -> bool:
        """The shard holding the caller's partition lost its data after this token was issued: the end of its
        session may be gone with it."""
        since = admission.remembers_since
        return since is not None and not admission.vouched and claims.issued_at.timestamp() <= since

    def _check_session(self, claims: AccessClaims) -> None:
        """Once per such session: DynamoDB decides; Redis remembers the answer."""
        try:
            self._require_live_session(claims)
        except AuthenticationError:
            self._ended_sessions.end(claims.user_id, claims.session_id)
            raise
        self._ended_sessions.vouch(claims.user_id, claims.session_id, claims.expires_at)

    def _require_live_session(self, claims: AccessClaims) -> None:
        """DynamoDB's word on the token's session (one consistent read): AuthenticationError when it has ended."""
        session = self._sessions.get(claims.session_id)
        if session is None or session.revoked or session.user_id != claims.user_id:
            raise AuthenticationError(REVOKED)

    def admit_anonymous(self, client_ip: str, policy_name: str) -> Admission:
        return _enforce(self._redis.admit_counted(keys.client_address(client_ip), self._policies[policy_name]))

    def admit_refresh(self, claims: RefreshClaims) -> Admission:
        """Per session, whatever address it comes from."""
        subject = keys.session(claims.user_id, claims.session_id)
        return _enforce(self._redis.admit_counted(subject, self._policies["refresh"]))


def _enforce(admission: Admission) -> Admission:
    if admission.limit and not admission.limit.allowed:
        raise RateLimitedError("Too many requests; see Retry-After.", limit=admission.limit)
    return admission
