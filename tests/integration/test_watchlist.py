"""Watchlist CRUD, conditional requests and listing, through the Lambda handler."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.support import Api

MISSING_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _add(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/watchlists/items", token=token, json={"type": "movie"} | fields)
    assert response.status == 201, response.body
    return dict(response.json())


def test_create_returns_the_item_with_location_and_etag(any_api: Api) -> None:
    _, token = any_api.new_user()
    response = any_api.post(
        "/v1/watchlists/items", token=token, json={"title": "Heat", "type": "movie", "year": 1995, "rating": 9}
    )
    assert response.status == 201
    item = response.json()
    assert item["status"] == "planned"
    assert item["version"] == 1
    assert item["created_at"] == item["updated_at"]
    assert response.header("etag") == '"1"'
    prefix = f"/{any_api.stage}" if any_api.stage else ""
    assert response.header("location") == f"{prefix}/v1/watchlists/items/{item['id']}"
    fetched = any_api.get(f"/v1/watchlists/items/{item['id']}", token=token)
    assert fetched.status == 200
    assert fetched.json() == item


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "type": "movie"},
        {"title": "x" * 201, "type": "movie"},
        {"title": "X", "type": "book"},
        {"title": "X", "type": "movie", "year": 1869},
        {"title": "X", "type": "movie", "year": datetime.now(UTC).year + 2},
        {"title": "X", "type": "movie", "rating": 0},
        {"title": "X", "type": "movie", "rating": 11},
        {"title": "X", "type": "movie", "notes": "n" * 2001},
        {"title": "X", "type": "movie", "status": "paused"},
        {"title": "X", "type": "movie", "owner": "someone"},
        {"title": 5, "type": "movie"},
        ["not", "an", "object"],
    ],
    ids=[
        "empty-title",
        "long-title",
        "bad-type",
        "year-too-early",
        "year-too-late",
        "rating-0",
        "rating-11",
        "long-notes",
        "bad-status",
        "unknown-field",
        "title-wrong-type",
        "array-body",
    ],
)
def test_invalid_items_are_rejected_with_422_and_nothing_is_stored(api: Api, body: Any) -> None:
    _, token = api.new_user()
    response = api.post("/v1/watchlists/items", token=token, json=body)
    assert response.status == 422, response.body
    assert response.header("content-type") == "application/problem+json"
    assert response.json()["errors"]
    assert api.get("/v1/watchlists", token=token).json()["total"] == 0


def test_next_year_is_a_valid_year(api: Api) -> None:
    _, token = api.new_user()
    assert _add(api, token, title="Soon", year=datetime.now(UTC).year + 1)["year"] == datetime.now(UTC).year + 1


def test_get_answers_304_to_a_matching_if_none_match(api: Api) -> None:
    _, token = api.new_user()
    item = _add(api, token, title="Alien")
    path = f"/v1/watchlists/items/{item['id']}"
    response = api.get(path, token=token, headers={"If-None-Match": '"1"'})
    assert response.status == 304
    assert response.header("etag") == '"1"'
    assert api.get(path, token=token, headers={"If-None-Match": '"7"'}).status == 200


def test_patch_changes_only_given_fields_and_clears_nulls(api: Api) -> None:
    _, token = api.new_user()
    item = _add(api, token, title="Dune", year=2021, rating=7, notes="with friends")
    path = f"/v1/watchlists/items/{item['id']}"
    response = api.patch(path, token=token, json={"status": "completed", "rating": None})
    assert response.status == 200, response.body
    changed = response.json()
    assert changed["status"] == "completed"
    assert changed["rating"] is None
    assert changed["notes"] == "with friends"
    assert changed["version"] == 2
    assert response.header("etag") == '"2"'
    assert api.get(path, token=token).json() == changed


@pytest.mark.parametrize("body", [{"title": None}, {"type": None}, {"status": None}, {"version": 9}, {"rating": 12}])
def test_patch_rejects_invalid_changes(api: Api, body: dict[str, Any]) -> None:
    _, token = api.new_user()
    item = _add(api, token, title="Dune")
    response = api.patch(f"/v1/watchlists/items/{item['id']}", token=token, json=body)
    assert response.status == 422
    assert api.get(f"/v1/watchlists/items/{item['id']}", token=token).json() == item


def test_if_match_with_the_current_etag_succeeds_and_a_stale_one_gets_412(api: Api) -> None:
    _, token = api.new_user()
    item = _add(api, token, title="Up")
    path = f"/v1/watchlists/items/{item['id']}"
    assert api.patch(path, token=token, json={"rating": 8}, headers={"If-Match": '"1"'}).status == 200
    stale = api.patch(path, token=token, json={"rating": 2}, headers={"If-Match": '"1"'})
    assert stale.status == 412
    assert stale.header("content-type") == "application/problem+json"
    assert api.get(path, token=token).json()["rating"] == 8
    assert api.delete(path, token=token, headers={"If-Match": '"1"'}).status == 412
    assert api.delete(path, token=token, headers={"If-Match": 'W/"x", "2"'}).status == 204
    assert api.get(path, token=token).status == 404


def test_another_users_items_are_404_for_every_method(api: Api) -> None:
    _, owner_token = api.new_user()
    _, other_token = api.new_user()
    item = _add(api, owner_token, title="Mine")
    path = f"/v1/watchlists/items/{item['id']}"
    assert api.get(path, token=other_token).status == 404
    assert api.patch(path, token=other_token, json={"title": "Stolen"}).status == 404
    assert api.delete(path, token=other_token).status == 404
    assert api.get(path, token=owner_token).json()["title"] == "Mine"
    assert api.get(f"/v1/watchlists/items/{MISSING_ID}", token=owner_token).status == 404


@pytest.mark.parametrize("bad_id", ["not-a-ulid", "x" * 2000, "01ARZ3NDEKTSV4RRFFQ69G5FAU%00"])
def test_malformed_item_ids_are_422(api: Api, bad_id: str) -> None:
    _, token = api.new_user()
    assert api.get(f"/v1/watchlists/items/{bad_id}", token=token).status == 422


def test_delete_removes_the_item_and_its_count(api: Api) -> None:
    _, token = api.new_user()
    item = _add(api, token, title="Gone")
    assert api.delete(f"/v1/watchlists/items/{item['id']}", token=token).status == 204
    assert api.delete(f"/v1/watchlists/items/{item['id']}", token=token).status == 404
    assert api.get("/v1/watchlists", token=token).json() == {"items": [], "next_cursor": None, "total": 0}


@pytest.fixture
def library(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """A user with seven items of both types, statuses, ratings and years."""
    _, token = api.new_user()
    specs = [
        {"title": "alien", "type": "movie", "year": 1979, "rating": 9, "status": "completed"},
        {"title": "Breaking Bad", "type": "show", "year": 2008, "rating": 10, "status": "completed"},
        {"title": "Cats", "type": "movie", "year": 2019, "rating": 1, "status": "dropped"},
        {"title": "Dark", "type": "show", "year": 2017, "status": "watching"},
        {"title": "Eraserhead", "type": "movie", "year": 1977, "rating": 6},
        {"title": "Alien", "type": "movie", "rating": 8},
        {"title": "Fargo", "type": "show", "year": 2014, "rating": 9, "status": "planned"},
    ]
    return token, [_add(api, token, **spec) for spec in specs]


def _titles(api: Api, token: str, **query: Any) -> list[str]:
    response = api.get("/v1/watchlists", token=token, query=query)
    assert response.status == 200, response.body
    return [item["title"] for item in response.json()["items"]]


def test_default_order_is_newest_first_and_total_counts_all(api: Api, library: tuple[str, list[Any]]) -> None:
    token, items = library
    page = api.get("/v1/watchlists", token=token).json()
    assert [i["id"] for i in page["items"]] == [i["id"] for i in reversed(items)]
    assert page["total"] == 7
    assert page["next_cursor"] is None
    assert _titles(api, token, sort="created_at") == [i["title"] for i in items]


def test_filters_narrow_the_list_and_the_total(api: Api, library: tuple[str, list[Any]]) -> None:
    token, _ = library
    assert _titles(api, token, type="show") == ["Fargo", "Dark", "Breaking Bad"]
    assert _titles(api, token, status="completed") == ["Breaking Bad", "alien"]
    assert _titles(api, token, type="movie", status="completed") == ["alien"]
    page = api.get("/v1/watchlists", token=token, query={"type": "movie", "status": "planned"}).json()
    assert page["total"] == 2


def test_sorts(api: Api, library: tuple[str, list[Any]]) -> None:
    token, _ = library
    assert _titles(api, token, sort="title") == [
        "alien",
        "Alien",
        "Breaking Bad",
        "Cats",
        "Dark",
        "Eraserhead",
        "Fargo",
    ]
    assert _titles(api, token, sort="-title")[0] == "Fargo"
    assert _titles(api, token, sort="-rating") == [
        "Breaking Bad",
        "Fargo",
        "alien",
        "Alien",
        "Eraserhead",
        "Cats",
        "Dark",
    ]
    assert _titles(api, token, sort="rating")[:2] == ["Dark", "Cats"]
    assert _titles(api, token, sort="year") == ["Alien", "Eraserhead", "alien", "Breaking Bad", "Fargo", "Dark", "Cats"]
    assert _titles(api, token, sort="-year", type="show") == ["Dark", "Fargo", "Breaking Bad"]


@pytest.mark.parametrize(
    "query", [{}, {"sort": "title"}, {"type": "movie"}, {"sort": "-rating", "status": "completed"}]
)
def test_cursor_pages_visit_every_item_once_with_link_headers(
    api: Api, library: tuple[str, list[Any]], query: dict[str, str]
) -> None:
    token, _ = library
    expected = _titles(api, token, **query)
    seen: list[str] = []
    params: dict[str, Any] = query | {"limit": 2}
    while True:
        response = api.get("/v1/watchlists", token=token, query=params)
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["title"] for item in page["items"]]
        if page["next_cursor"] is None:
            assert response.header("link") is None
            break
        link = response.header("link")
        assert link
        assert link.endswith('>; rel="next"')
        next_query = parse_qs(urlsplit(link[1 : link.index(">")]).query)
        assert next_query["cursor"] == [page["next_cursor"]]
        params = {key: values[0] for key, values in next_query.items()}
    assert seen == expected


def test_skip_is_an_offset(api: Api, library: tuple[str, list[Any]]) -> None:
    token, _ = library
    everything = _titles(api, token)
    assert _titles(api, token, skip=2, limit=3) == everything[2:5]
    assert _titles(api, token, skip=50) == []


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "!!!"},
        {"cursor": "eyJub3QiOiJvdXJzIn0"},
        {"limit": 0},
        {"limit": 101},
        {"skip": -1},
        {"sort": "price"},
        {"type": "book"},
        {"skip": 1, "cursor": "abc"},
    ],
    ids=[
        "garbage-cursor",
        "foreign-cursor",
        "limit-0",
        "limit-101",
        "negative-skip",
        "bad-sort",
        "bad-type",
        "cursor-and-skip",
    ],
)
def test_bad_list_queries_are_422(api: Api, query: dict[str, Any]) -> None:
    _, token = api.new_user()
    response = api.get("/v1/watchlists", token=token, query=query)
    assert response.status == 422, response.body
    assert response.json()["errors"]


def test_a_cursor_cannot_be_reused_with_another_sort(api: Api, library: tuple[str, list[Any]]) -> None:
    token, _ = library
    cursor = api.get("/v1/watchlists", token=token, query={"limit": 2}).json()["next_cursor"]
    response = api.get("/v1/watchlists", token=token, query={"cursor": cursor, "sort": "title"})
    assert response.status == 422


def test_another_users_cursor_is_422(api: Api, library: tuple[str, list[Any]]) -> None:
    token, _ = library
    cursor = api.get("/v1/watchlists", token=token, query={"limit": 2}).json()["next_cursor"]
    _, other_token = api.new_user()
    _add(api, other_token, title="Private")
    response = api.get("/v1/watchlists", token=other_token, query={"cursor": cursor, "limit": 2})
    assert response.status == 422, response.body
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("change", ["altered", "truncated"])
def test_an_altered_or_truncated_cursor_is_422(api: Api, library: tuple[str, list[Any]], change: str) -> None:
    token, _ = library
    cursor = api.get("/v1/watchlists", token=token, query={"limit": 2, "sort": "title"}).json()["next_cursor"]
    given = cursor[:-1] + ("A" if cursor[-1] != "A" else "B") if change == "altered" else cursor[:-5]
    response = api.get("/v1/watchlists", token=token, query={"cursor": given, "limit": 2, "sort": "title"})
    assert response.status == 422, response.body
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_a_title_sorts_cursor_and_link_carry_no_title(api: Api) -> None:
    _, token = api.new_user()
    for title in ("Confidential Aardvark", "Confidential Zebra"):
        _add(api, token, title=title)
    response = api.get("/v1/watchlists", token=token, query={"sort": "title", "limit": 1})
    cursor = response.json()["next_cursor"]
    link = unquote(response.header("link") or "")
    assert cursor in link
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for shown in (link, raw.decode("latin-1")):
        assert "confidential" not in shown.casefold()
        assert "aardvark" not in shown.casefold()
    assert [item["title"] for item in response.json()["items"]] == ["Confidential Aardvark"]


def test_list_etag_changes_after_a_write(api: Api) -> None:
    _, token = api.new_user()
    first = api.get("/v1/watchlists", token=token)
    etag = first.header("etag")
    assert api.get("/v1/watchlists", token=token, headers={"If-None-Match": etag}).status == 304
    _add(api, token, title="New")
    after = api.get("/v1/watchlists", token=token, headers={"If-None-Match": etag})
    assert after.status == 200
    assert [i["title"] for i in after.json()["items"]] == ["New"]


def test_the_original_apis_trailing_slash_is_the_same_list_on_every_gateway_path(any_api: Api) -> None:
    _, token = any_api.new_user()
    for title in ("Heat", "Ronin", "Thief"):
        _add(any_api, token, title=title)
    query = {"sort": "title", "limit": 2}
    plain = any_api.get("/v1/watchlists", token=token, query=query)
    slashed = any_api.get("/v1/watchlists/", token=token, query=query)
    assert slashed.status == 200, slashed.body
    assert (slashed.json(), slashed.header("etag")) == (plain.json(), plain.header("etag"))
    prefix = f"/{any_api.stage}" if any_api.stage else ""
    assert (slashed.header("link") or "").startswith(f"<{prefix}/v1/watchlists?")  # the next page: the resource
    conditional = {"If-None-Match": plain.header("etag") or ""}
    assert any_api.get("/v1/watchlists/", token=token, query=query, headers=conditional).status == 304
    # One path, one operation, in the document that schemathesis and the generated clients read.
    assert "/v1/watchlists/" not in any_api.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(("alias", "sort"), [("created_at_desc", "-created_at"), ("created_at_asc", "created_at")])
def test_the_original_apis_sort_names_are_aliases_whose_cursors_page_on(
    api: Api, library: tuple[str, list[Any]], alias: str, sort: str
) -> None:
    token, _ = library
    expected = _titles(api, token, sort=sort)
    seen: list[str] = []
    params: dict[str, Any] = {"sort": alias, "limit": 3}
    while True:
        response = api.get("/v1/watchlists", token=token, query=params)
        assert response.status == 200, response.body
        page = response.json()
        seen += [item["title"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        next_query = parse_qs(urlsplit((response.header("link") or "")[1:].split(">")[0]).query)
        assert next_query["sort"] == [alias]  # the next link keeps the client's own name
        params = {key: values[0] for key, values in next_query.items()}
    assert seen == expected
    # The alias is a name for the sort, not another query: its cursor pages the canonical name's list too.
    first = api.get("/v1/watchlists", token=token, query={"sort": alias, "limit": 3}).json()
    canonical = api.get("/v1/watchlists", token=token, query={"sort": sort, "limit": 3, "cursor": first["next_cursor"]})
    assert [item["title"] for item in canonical.json()["items"]] == expected[3:6]
    spec = api.get("/openapi.json").json()
    assert alias not in spec["components"]["schemas"]["ItemSort"]["enum"]
