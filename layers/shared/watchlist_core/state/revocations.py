"""Ended sessions in Redis: one key ends every access token of a session at once (a logout, a refresh token
reused), read by the admission pipeline (state/admission.py); and the sessions found live in DynamoDB after their
partition's shard lost its data (vouched)."""

from __future__ import annotations

from datetime import datetime

from watchlist_core.state import keys
from watchlist_core.state.client import RedisState


class RedisEndedSessions:
    """A session's end is kept as long as any of its access tokens can live: `access_token_seconds` from the end,
    since none is issued after it."""

    def __init__(self, state: RedisState, access_token_seconds: int) -> None:
        self._state = state
        self._keep_seconds = access_token_seconds + 1

    def end(self, user_id: str, session_id: str) -> bool:
        key = keys.session_ended(user_id, session_id)
        ended = self._state.run("end_session", key, lambda slot: slot.commands.set(key, 1, ex=self._keep_seconds))
        return ended is not None

    def vouch(self, user_id: str, session_id: str, until: datetime) -> None:
        """The session was found live: no need to ask DynamoDB again until `until` (the checked token's expiry)."""
        key = keys.session_vouched(user_id, session_id)
        self._state.run("vouch_session", key, lambda slot: slot.commands.set(key, 1, exat=int(until.timestamp()) + 1))
