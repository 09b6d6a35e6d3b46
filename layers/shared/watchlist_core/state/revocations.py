"""Revoked access tokens in Redis: the revocations themselves, the tokens found live since Redis last lost its data
(vouched), and since when Redis remembers (read by the admission pipeline, state/admission.py)."""

from __future__ import annotations

from datetime import datetime

from watchlist_core.state.client import KEY_PREFIX, RedisState, user_tag

# Since when (Unix time) this Redis has held every revocation: written by the first request that finds it
# missing, so it is missing after Redis lost its data. One key, no expiry.
REMEMBERS_SINCE_KEY = f"{KEY_PREFIX}revocations-since"


def revoked_key(user_id: str, jti: str) -> str:
    return user_tag(user_id) + "revoked:" + jti


def vouched_key(user_id: str, jti: str) -> str:
    return user_tag(user_id) + "vouched:" + jti


class RedisRevokedTokens:
    """Revoked access-token ids, kept until the token would have expired anyway."""

    def __init__(self, state: RedisState) -> None:
        self._state = state

    def revoke(self, user_id: str, jti: str, until: datetime) -> bool:
        key = revoked_key(user_id, jti)
        return self._state.run("revoke", lambda client: client.set(key, 1, exat=int(until.timestamp()) + 1)) is not None

    def vouch(self, user_id: str, jti: str, until: datetime) -> None:
        """The token's session was found live: no need to ask DynamoDB again for this token."""
        key = vouched_key(user_id, jti)
        self._state.run("vouch", lambda client: client.set(key, 1, exat=int(until.timestamp()) + 1))
