"""/v1/admin: user and content administration, for the admin role only."""

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, model_validator

from watchlist_api.conditional import OwnerCache, respond
from watchlist_api.dependencies import Admin, ServicesDep
from watchlist_api.idempotency import IdempotencyKey, once
from watchlist_api.routers.watchlists import ULID_PATTERN, ItemId, ItemQueryDep, page_representation
from watchlist_api.strict_json import StrictJSONRoute
from watchlist_core.audit.message import REQUEST_ID_PATTERN, TRACE_ID_PATTERN, AuditAction
from watchlist_core.audit.queries import AuditPage, AuditQuery
from watchlist_core.domain import Lax, Page, Role, StrictInput, User, WatchlistItem

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/admin", tags=["admin"])
UserId = Annotated[str, Path(pattern=ULID_PATTERN, description="The user's id (a ULID).")]


class AccountChanges(StrictInput):
    """What an admin changes of an account: only the fields present."""

    role: Annotated[Role, Lax] | None = None
    active: bool | None = Field(
        default=None, description="false: deactivate (its tokens stop at once); true: reactivate"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> "AccountChanges":
        if self.role is None and self.active is None:
            raise ValueError("give role, active or both")
        return self


@router.get("/users", response_model=Page[User])
def list_users(
    request: Request,
    _: Admin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    return respond(request, page_representation(request, services.admin.list_users(limit, cursor)))


@router.patch("/users/{user_id}", response_model=User)
def change_user(
    request: Request,
    user_id: UserId,
    body: AccountChanges,
    admin: Admin,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """An account's role and whether it is active; the last active admin can be neither demoted nor deactivated."""

    def produce() -> Response:
        changed: User | None = None
        if body.role is not None:
            changed = services.admin.change_role(admin.id, user_id, body.role)
        if body.active is not None:
            changed = services.admin.set_active(admin.id, user_id, body.active)
        assert changed is not None  # AccountChanges refuses a body that changes nothing
        return Response(changed.model_dump_json(), media_type="application/json")

    fingerprint = body.model_dump(mode="json", exclude_unset=True)
    return once(request, services, admin.id, idempotency_key, fingerprint, produce)


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
def delete_user(
    request: Request, user_id: UserId, admin: Admin, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Deletes the account and all its data as `DELETE /v1/auth/me` does, without a password; never the last active
    admin (409), whoever deletes it."""

    def produce() -> Response:
        services.admin.delete_user(admin.id, user_id)
        return Response(status_code=204)

    return once(request, services, admin.id, idempotency_key, None, produce)


@router.get("/users/{user_id}/watchlist", response_model=Page[WatchlistItem])
def user_watchlist(request: Request, user_id: UserId, query: ItemQueryDep, _: Admin, services: ServicesDep) -> Response:
    return OwnerCache.read(services.cache, user_id).serve(
        request, lambda: page_representation(request, services.admin.user_watchlist(user_id, query)), asdict(query)
    )


@router.delete("/users/{user_id}/items/{item_id}", status_code=204, response_class=Response)
def delete_user_item(
    request: Request,
    user_id: UserId,
    item_id: ItemId,
    admin: Admin,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def produce() -> Response:
        services.admin.delete_item(admin.id, user_id, item_id)
        return Response(status_code=204)

    return once(request, services, admin.id, idempotency_key, None, produce)


@router.get("/audit", response_model=AuditPage)
def audit_trail(
    request: Request,
    _: Admin,
    services: ServicesDep,
    actor_id: Annotated[str | None, Query(pattern=ULID_PATTERN)] = None,
    action: AuditAction | None = None,
    since: Annotated[datetime | None, Query(description="RFC 3339; only events at or after it")] = None,
    trace_id: Annotated[
        str | None, Query(pattern=TRACE_ID_PATTERN, description="Only the events of the request of this trace")
    ] = None,
    gateway_request_id: Annotated[
        str | None,
        Query(pattern=REQUEST_ID_PATTERN, description="Only the events of the request API Gateway gave this id"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """The audit trail, newest first. Stored asynchronously: an event appears a moment after its request. With
    `trace_id` or `gateway_request_id`, one request's events, in one page."""
    query = AuditQuery(
        actor_id=actor_id,
        action=action,
        since=since,
        trace_id=trace_id,
        gateway_request_id=gateway_request_id,
        limit=limit,
        cursor=cursor,
    )
    return respond(request, page_representation(request, services.admin.audit_trail(query)))
