"""The audit message: one versioned schema, validated by the API that sends it and the function that stores it.

An event says who (actor) did what (action) to what (target), when, from which request and address, and for
updates which fields changed. It never holds a password, a token or a secret; for a failed login on an unknown
address it does not even hold the address (people type passwords into the e-mail field).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from watchlist_core.domain import Role, Timestamp, User, utc_now

SCHEMA_VERSION: Literal[1] = 1
EVENT_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class AuditAction(StrEnum):
    USER_REGISTERED = "user.registered"
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_LOCKED = "auth.login_locked"
    REFRESHED = "auth.refreshed"
    REFRESH_REUSE_DETECTED = "auth.refresh_reuse_detected"
    LOGOUT = "auth.logout"
    ITEM_CREATED = "item.created"
    ITEM_UPDATED = "item.updated"
    ITEM_DELETED = "item.deleted"
    ROLE_CHANGED = "admin.role_changed"
    ADMIN_ITEM_DELETED = "admin.item_deleted"


class AuditTarget(BaseModel):
    """What the action was done to; `owner_id` names the user an item belongs to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["user", "item", "session"]
    id: str = Field(min_length=1, max_length=64)
    owner_id: str | None = Field(default=None, max_length=64)


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    old: Any
    new: Any


class AuditEvent(BaseModel):
    """Version 1 of the audit message. A change that old readers cannot read gets a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(pattern=EVENT_ID_PATTERN, description="A ULID: unique, and sorts by time of occurrence.")
    occurred_at: Timestamp
    action: AuditAction
    actor_id: str | None = Field(default=None, max_length=64, description="Who acted; null for the system.")
    target: AuditTarget | None = None
    request_id: str | None = Field(default=None, max_length=128)
    source_ip: str | None = Field(default=None, max_length=64)
    changes: dict[str, FieldChange] | None = None


@dataclass(frozen=True)
class RequestOrigin:
    """Where the current action came from; the API's middleware sets it per request."""

    request_id: str | None = None
    source_ip: str | None = None


# A context variable, so the domain can stamp events without knowing of HTTP; each request runs in its own
# context (and FastAPI's thread pool copies it), so concurrent requests never see each other's origin.
current_origin: ContextVar[RequestOrigin | None] = ContextVar("current_origin", default=None)


def new_event(
    action: AuditAction,
    *,
    actor_id: str | None,
    target: AuditTarget | None = None,
    changes: dict[str, FieldChange] | None = None,
) -> AuditEvent:
    origin = current_origin.get() or RequestOrigin()
    return AuditEvent(
        id=str(ULID()),
        occurred_at=utc_now(),
        action=action,
        actor_id=actor_id,
        target=target,
        request_id=origin.request_id,
        source_ip=origin.source_ip,
        changes=changes,
    )


def user_target(user_id: str) -> AuditTarget:
    return AuditTarget(type="user", id=user_id)


def item_target(owner_id: str, item_id: str) -> AuditTarget:
    return AuditTarget(type="item", id=item_id, owner_id=owner_id)


def session_target(owner_id: str, session_id: str) -> AuditTarget:
    return AuditTarget(type="session", id=session_id, owner_id=owner_id)


def role_changed(actor_id: str | None, user: User, role: Role) -> AuditEvent:
    return new_event(
        AuditAction.ROLE_CHANGED,
        actor_id=actor_id,
        target=user_target(user.id),
        changes={"role": FieldChange(old=user.role.value, new=role.value)},
    )


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, FieldChange]:
    """The fields whose JSON values differ between two versions of a record."""
    return {name: FieldChange(old=old.get(name), new=value) for name, value in new.items() if old.get(name) != value}


@dataclass(frozen=True)
class AuditQuery:
    """What the admin's trail request asks for: newest first, optionally one actor's or one action's."""

    actor_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    limit: int = 20
    cursor: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: str | None
    total: int | None = Field(
        default=None, description="Always null: counting the whole trail would cost a read of all of it."
    )
