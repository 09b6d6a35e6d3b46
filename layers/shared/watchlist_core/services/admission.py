"""Whether a request may proceed: rate limits and access-token revocation, with one Redis round trip."""

from __future__ import annotations

from watchlist_core.errors import AuthenticationError, DependencyUnavailableError, RateLimitedError
from watchlist_core.ratelimit import RatePolicy
from watchlist_core.security.tokens import AccessClaims
from watchlist_core.state.gate import Admission, RequestGate


class AdmissionService:
    def __init__(self, gate: RequestGate, policies: dict[str, RatePolicy], *, revocation_fails_closed: bool) -> None:
        self._gate = gate
        self._policies = policies
        self._fails_closed = revocation_fails_closed

    def admit_user(self, claims: AccessClaims, policy_name: str = "user") -> Admission:
        admission = self._gate.admit_user(claims.user_id, claims.jti, self._policies[policy_name])
        if admission.revoked:
            raise AuthenticationError("The access token has been revoked.")
        if admission.revoked is None and self._fails_closed:
            raise DependencyUnavailableError("Token revocation cannot be checked right now.", retry_after_seconds=5)
        _enforce(admission)
        return admission

    def admit_anonymous(self, client_ip: str, policy_name: str) -> Admission:
        return _enforce(self._gate.admit_anonymous(client_ip, self._policies[policy_name]))


def _enforce(admission: Admission) -> Admission:
    if admission.limit and not admission.limit.allowed:
        raise RateLimitedError("Too many requests; see Retry-After.", limit=admission.limit)
    return admission
