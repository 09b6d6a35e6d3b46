"""The admin's view of the stored audit trail: what a request asks for, and the page it gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.domain import Model


@dataclass(frozen=True)
class AuditQuery:
    """What the admin's trail request asks for: newest first, optionally one actor's or one action's, or one
    request's (by the ids no client chooses)."""

    actor_id: str | None = None
    trace_id: str | None = None
    gateway_request_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    limit: int = 20
    cursor: str | None = None


class AuditPage(Model):
    items: list[AuditEvent]
    next_cursor: str | None
    total: int | None = Field(
        default=None, description="Always null: counting the whole trail would cost a read of all of it."
    )
