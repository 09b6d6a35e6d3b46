"""Data access for sign-in sessions: one refresh-token family each, rotated on every refresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from watchlist_core.storage.tables import SessionRecord
from watchlist_core.storage.transactions import conditional_write


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    current_jti: str
    revoked: bool
    logged_out: bool = False


class SessionStore:
    def start(self, session_id: str, user_id: str, jti: str, expires_at: datetime) -> None:
        SessionRecord(session_id=session_id, user_id=user_id, current_jti=jti, expires_at=expires_at).save(
            condition=SessionRecord.session_id.does_not_exist()
        )

    def get(self, session_id: str) -> Session | None:
        try:
            record = SessionRecord.get(session_id, consistent_read=True)
        except DoesNotExist:
            return None
        return Session(
            record.session_id, record.user_id, record.current_jti, bool(record.revoked), bool(record.logged_out)
        )

    def rotate(self, session_id: str, presented_jti: str, next_jti: str, expires_at: datetime) -> bool:
        """Move the session to `next_jti` if `presented_jti` is still its current, unrevoked token."""
        return conditional_write(
            lambda: SessionRecord(session_id=session_id).update(
                actions=[SessionRecord.current_jti.set(next_jti), SessionRecord.expires_at.set(expires_at)],
                condition=(SessionRecord.current_jti == presented_jti) & (SessionRecord.revoked == False),  # noqa: E712
            )
        )

    def revoke(self, session_id: str, *, logged_out: bool = False) -> None:
        """No refresh token of the session is accepted any more; with `logged_out`, none of its access tokens
        either (what a logout records: it outlives Redis losing the access token's revocation)."""
        actions: list[Action] = [SessionRecord.revoked.set(True)]
        if logged_out:
            actions.append(SessionRecord.logged_out.set(True))
        conditional_write(  # an unknown session needs no revoking
            lambda: SessionRecord(session_id=session_id).update(
                actions=actions, condition=SessionRecord.session_id.exists()
            )
        )
