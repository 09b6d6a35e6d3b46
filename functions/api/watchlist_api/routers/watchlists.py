"""/v1/watchlists: the caller's own items."""

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from watchlist_api.conditional import expected_versions, represent, respond, version_etag
from watchlist_api.dependencies import Caller, OwnCache, ServicesDep, Writer
from watchlist_api.idempotency import IdempotencyKey, once
from watchlist_api.strict_json import StrictJSONRoute
from watchlist_core.audit.queries import AuditPage
from watchlist_core.domain import (
    ItemChanges,
    ItemDraft,
    ItemQuery,
    ItemSort,
    ItemStatus,
    ItemType,
    Page,
    WatchlistItem,
)
from watchlist_core.errors import InvalidInputError
from watchlist_core.state.cache import CachedRepresentation

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/watchlists", tags=["watchlist"])

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
ItemId = Annotated[str, Path(pattern=ULID_PATTERN, description="The item's id (a ULID).")]
MAX_SKIP = 10_000
LEGACY_SORTS_NOTE = (
    "`created_at_desc` and `created_at_asc`, the original API's names, stand for `-created_at` and `created_at`."
)


async def item_query(
    type: ItemType | None = None,  # noqa: A002 (the contract's parameter name)
    status: ItemStatus | None = None,
    sort: Annotated[ItemSort, Query(description=LEGACY_SORTS_NOTE)] = ItemSort.CREATED_AT_DESC,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")] = None,
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP, description="Offset, for old clients; costs reads")] = 0,
) -> ItemQuery:
    if cursor and skip:
        raise InvalidInputError("Use either `cursor` or `skip`, not both.", field=("query", "skip"))
    return ItemQuery(type=type, status=status, sort=sort, limit=limit, cursor=cursor, skip=skip)


ItemQueryDep = Annotated[ItemQuery, Depends(item_query)]


def page_representation(request: Request, page: Page[Any] | AuditPage) -> CachedRepresentation:
    """A page with its ETag, and a `Link: rel="next"` when there is a next page."""
    link = None
    if page.next_cursor:
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in {"cursor", "skip"}]
        params.append(("cursor", page.next_cursor))
        link = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return represent(page, link=link)


def item_response(request: Request, item: WatchlistItem, status_code: int = 200) -> Response:
    return respond(request, represent(item, etag=version_etag(item.version)), status_code)


# Cached reads are `async def`: a cache hit then costs no thread hop (see dependencies.py for why blocking
# on a miss is acceptable on Lambda).
# (`/v1/watchlists/`, as the original Watchlist API's clients call it, reaches it too: middleware.LEGACY_PATHS.)
@router.get("", response_model=Page[WatchlistItem])
async def list_items(
    request: Request, caller: Caller, cache: OwnCache, query: ItemQueryDep, services: ServicesDep
) -> Response:
    return cache.serve(
        request, lambda: page_representation(request, services.watchlists.list(caller.user_id, query)), asdict(query)
    )


@router.post("/items", status_code=201, response_model=WatchlistItem)
def add_item(
    request: Request, draft: ItemDraft, caller: Writer, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def produce() -> Response:
        item = services.watchlists.add(caller.user_id, draft)
        response = item_response(request, item, status_code=201)
        response.headers["Location"] = f"{request.url.path}/{item.id}"
        return response

    return once(request, services, caller.user_id, idempotency_key, draft.model_dump(mode="json"), produce)


@router.get("/items/{item_id}", response_model=WatchlistItem)
async def get_item(
    request: Request, item_id: ItemId, caller: Caller, cache: OwnCache, services: ServicesDep
) -> Response:
    def produce() -> CachedRepresentation:
        item = services.watchlists.get(caller.user_id, item_id)
        return represent(item, etag=version_etag(item.version))

    return cache.serve(request, produce)


@router.patch("/items/{item_id}", response_model=WatchlistItem)
def change_item(
    request: Request,
    item_id: ItemId,
    changes: ItemChanges,
    caller: Writer,
    services: ServicesDep,
    if_match: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def produce() -> Response:
        item = services.watchlists.change(caller.user_id, item_id, changes, expected_versions(if_match))
        return item_response(request, item)

    fingerprint = {"changes": changes.model_dump(mode="json", exclude_unset=True), "if_match": if_match}
    return once(request, services, caller.user_id, idempotency_key, fingerprint, produce)


@router.delete("/items/{item_id}", status_code=204, response_class=Response)
def delete_item(
    request: Request,
    item_id: ItemId,
    caller: Writer,
    services: ServicesDep,
    if_match: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def produce() -> Response:
        services.watchlists.remove(caller.user_id, item_id, expected_versions(if_match))
        return Response(status_code=204)

    return once(request, services, caller.user_id, idempotency_key, {"if_match": if_match}, produce)
