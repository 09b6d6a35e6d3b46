"""What the services need from outside the domain, as protocols, all in one place: the Redis, SQS and GitHub
adapters (state/, queues.py, external/github.py) implement them; tests may stand in for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from watchlist_core.audit.message import AuditEvent
    from watchlist_core.external.github import UserAnswer


class EndedSessions(Protocol):
    """Sessions whose access tokens are no longer accepted, every one of them (state/revocations.py)."""

    def end(self, user_id: str, session_id: str) -> bool:
        """No access token of the session is accepted from now on; False when that could not be recorded."""
        ...

    def vouch(self, user_id: str, session_id: str, until: datetime) -> None:
        """The session was found live: no need to ask DynamoDB again until `until`."""
        ...


class DataChangeListener(Protocol):
    """Told when a user's data changed (the response cache, state/cache.py)."""

    def user_data_changed(self, user_id: str) -> None: ...


class AuditPublisher(Protocol):
    """The audit queue (queues.py)."""

    def send(self, event: AuditEvent) -> bool: ...

    def send_batch(self, events: Sequence[AuditEvent]) -> set[str]: ...


class GitHubUsers(Protocol):
    """GitHub's users API (external/github.py)."""

    async def user(self, username: str, etag: str | None = None) -> UserAnswer: ...
