"""The audit message: one versioned schema, validated by the API that sends it and the function that stores it.

An event says who (actor) did what (action) to what (target), when, from which request and address, and for
updates which fields changed. It never holds a password, a token or a secret; for a failed login on an unknown
address it does not even hold the address (people type passwords into the e-mail field).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field

from watchlist_core.domain import Model, Timestamp

SCHEMA_VERSION: Literal[1] = 1
EVENT_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
# A request id the API accepts from a client (X-Request-ID) or API Gateway; an X-Ray trace id.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
TRACE_ID_PATTERN = r"^1-[0-9a-f]{8}-[0-9a-f]{24}$"


class AuditAction(StrEnum):
    USER_REGISTERED = "user.registered"
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_LOCKED = "auth.login_locked"
    REFRESHED = "auth.refreshed"
    REFRESH_REUSE_DETECTED = "auth.refresh_reuse_detected"
    LOGOUT = "auth.logout"
    SESSION_ENDED = "auth.session_ended"
    PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105 (an action, not a secret)
    PASSWORD_RESET = "auth.password_reset"  # noqa: S105
    PROFILE_CHANGED = "account.profile_changed"
    EMAIL_CHANGED = "account.email_changed"
    EMAIL_VERIFIED = "account.email_verified"
    ACCOUNT_DELETED = "account.deleted"
    ITEM_CREATED = "item.created"
    ITEM_UPDATED = "item.updated"
    ITEM_DELETED = "item.deleted"
    ROLE_CHANGED = "admin.role_changed"
    ACCOUNT_DEACTIVATED = "admin.account_deactivated"
    ACCOUNT_REACTIVATED = "admin.account_reactivated"
    ADMIN_ITEM_DELETED = "admin.item_deleted"


class AuditTarget(Model):
    """What the action was done to; `owner_id` names the user an item belongs to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["user", "item", "session"]
    id: str = Field(min_length=1, max_length=64)
    owner_id: str | None = Field(default=None, max_length=64)


class FieldChange(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    old: Any
    new: Any


class AuditEvent(Model):
    """Version 1 of the audit message. A change that old readers cannot read gets a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(pattern=EVENT_ID_PATTERN, description="A ULID: unique, and sorts by time of occurrence.")
    occurred_at: Timestamp
    action: AuditAction
    actor_id: str | None = Field(default=None, max_length=64, description="Who acted; null for the system.")
    target: AuditTarget | None = None
    request_id: str | None = Field(
        default=None, max_length=128, description="The client's correlation id (X-Request-ID), else the gateway's."
    )
    source_ip: str | None = Field(default=None, max_length=64)
    gateway_request_id: str | None = Field(
        default=None, pattern=REQUEST_ID_PATTERN, description="API Gateway's id of the request (no client chooses it)."
    )
    trace_id: str | None = Field(default=None, pattern=TRACE_ID_PATTERN, description="The request's X-Ray trace id.")
    changes: dict[str, FieldChange] | None = None
