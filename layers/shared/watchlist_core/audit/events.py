"""The audit events as the services raise them: stamped with the origin of the request that caused them, which the
API's middleware sets without the domain knowing of HTTP."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from watchlist_core.audit.message import AuditAction, AuditEvent, AuditTarget, FieldChange
from watchlist_core.domain import Role, User, utc_now


@dataclass(frozen=True)
class RequestOrigin:
    """Where the current action came from; the API's middleware sets it per request."""

    request_id: str | None = None  # the client's correlation id (X-Request-ID), else the gateway's
    source_ip: str | None = None
    gateway_request_id: str | None = None  # API Gateway's id of the request: no client chooses it
    trace_id: str | None = None  # the request's trace (X-Ray's form): no client chooses it either


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
    # python-ulid on the first event: the API imports this module at start (the request origin), GET /health needs no id
    from ulid import ULID

    origin = current_origin.get() or RequestOrigin()
    return AuditEvent(
        id=str(ULID()),
        occurred_at=utc_now(),
        action=action,
        actor_id=actor_id,
        target=target,
        request_id=origin.request_id,
        source_ip=origin.source_ip,
        gateway_request_id=origin.gateway_request_id,
        trace_id=origin.trace_id,
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
