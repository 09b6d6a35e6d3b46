"""Data access for sign-in sessions: one refresh-token family each, rotated on every refresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from watchlist_core.domain import utc_now
from watchlist_core.storage.tables import SessionRecord
from watchlist_core.storage.transactions import conditional_write


@dataclass(frozen=True)
class SessionOrigin:
    """Where a session began: what its owner sees in their list of sessions (all None for one begun before sessions
    recorded it)."""

    created_at: datetime | None
    user_agent: str | None
    source_ip: str | None


UNRECORDED = SessionOrigin(None, None, None)


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    current_jti: str
    revoked: bool
    previous_jti: str | None = None  # the last rotation: the refresh token it replaced,
    rotated_at: datetime | None = None  # when (the new tokens' issue time),
    access_jti: str | None = None  # and the access token it issued
    origin: SessionOrigin = UNRECORDED

    @property
    def last_used_at(self) -> datetime | None:
        """When its tokens were last issued (a sign-in or a refresh): a request that only uses them is no write."""
        return self.rotated_at or self.origin.created_at


def _session_of(record: SessionRecord) -> Session:
    return Session(
        record.session_id,
        record.user_id,
        record.current_jti,
        bool(record.revoked),
        record.previous_jti,
        record.rotated_at,
        record.access_jti,
        SessionOrigin(record.created_at, record.user_agent, record.source_ip),
    )


@dataclass(frozen=True)
class Rotation:
    refresh_jti: str
    access_jti: str
    issued_at: datetime
    expires_at: datetime  # the record's, a little after the refresh token's


class SessionStore:
    def start(self, session_id: str, user_id: str, jti: str, expires_at: datetime, origin: SessionOrigin) -> None:
        SessionRecord(
            session_id=session_id,
            user_id=user_id,
            current_jti=jti,
            expires_at=expires_at,
            created_at=origin.created_at,
            user_agent=origin.user_agent,
            source_ip=origin.source_ip,
        ).save(condition=SessionRecord.session_id.does_not_exist())

    def get(self, session_id: str) -> Session | None:
        try:
            record = SessionRecord.get(session_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _session_of(record)

    def live_of(self, user_id: str) -> list[Session]:
        """The user's sessions that have not ended, from the index: one a sign-in began a moment ago may be missing
        (a global index is eventually consistent, typically within a second)."""
        now = utc_now()
        return [
            _session_of(record)
            for record in SessionRecord.by_user.query(user_id, filter_condition=SessionRecord.revoked == False)  # noqa: E712
            if record.expires_at is None or record.expires_at > now
        ]

    def rotate(self, session_id: str, presented_jti: str, rotation: Rotation) -> bool:
        """Move the session to the rotation's tokens if `presented_jti` is still its current, unrevoked token."""
        return conditional_write(
            lambda: SessionRecord(session_id=session_id).update(
                actions=[
                    SessionRecord.current_jti.set(rotation.refresh_jti),
                    SessionRecord.expires_at.set(rotation.expires_at),
                    SessionRecord.previous_jti.set(presented_jti),
                    SessionRecord.rotated_at.set(rotation.issued_at),
                    SessionRecord.access_jti.set(rotation.access_jti),
                ],
                condition=(SessionRecord.current_jti == presented_jti) & (SessionRecord.revoked == False),  # noqa: E712
            )
        )

    def revoke(self, session_id: str) -> None:
        """The session has ended: none of its tokens is accepted any more. What outlives Redis losing the end."""
        conditional_write(  # an unknown session needs no revoking
            lambda: SessionRecord(session_id=session_id).update(
                actions=[SessionRecord.revoked.set(True)], condition=SessionRecord.session_id.exists()
            )
        )
