"""/v1/admin: user and content administration, for the admin role only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from watchlist_api.conditional import cached, respond
from watchlist_api.dependencies import Admin, ServicesDep
from watchlist_api.routers.watchlists import ULID_PATTERN, ItemId, ItemQueryDep, page_representation
from watchlist_core.domain import Page, Role, StrictInput, User, WatchlistItem

router = APIRouter(prefix="/v1/admin", tags=["admin"])
UserId = Annotated[str, Path(pattern=ULID_PATTERN, description="The user's id (a ULID).")]


class RoleChange(StrictInput):
    role: Role


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
def change_role(user_id: UserId, body: RoleChange, _: Admin, services: ServicesDep) -> User:
    return services.admin.change_role(user_id, body.role)


@router.get("/users/{user_id}/watchlist", response_model=Page[WatchlistItem])
def user_watchlist(request: Request, user_id: UserId, query: ItemQueryDep, _: Admin, services: ServicesDep) -> Response:
    return cached(
        request,
        services.cache,
        user_id,
        services.cache.version(user_id),
        lambda: page_representation(request, services.admin.user_watchlist(user_id, query)),
    )


@router.delete("/users/{user_id}/items/{item_id}", status_code=204, response_class=Response)
def delete_user_item(user_id: UserId, item_id: ItemId, _: Admin, services: ServicesDep) -> Response:
    services.admin.delete_item(user_id, item_id)
    return Response(status_code=204)
