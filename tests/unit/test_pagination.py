"""Cursors: sealed under a key derived from the signing key, bound to their list, bounded in bytes, and refused
(422) before any DynamoDB request when altered, cut short, foreign or sealed under another key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string

import pytest

from infra.aws.calls import tally_aws_calls
from tests.support import TEST_SIGNING_KEY
from watchlist_core.audit.events import new_event
from watchlist_core.audit.message import AuditAction
from watchlist_core.audit.queries import AuditQuery
from watchlist_core.domain import ItemDraft, ItemQuery, ItemSort, Registration, Role
from watchlist_core.errors import InvalidInputError
from watchlist_core.storage.audit_events import AuditEventStore
from watchlist_core.storage.items import derived_keys
from watchlist_core.storage.pagination import (
    CURSOR_KEY_LABEL,
    MAX_CURSOR_LENGTH,
    MAX_KEY_PART_BYTES,
    CursorCodec,
    cursor_key,
)
from watchlist_core.wiring import Services

SCOPE = "items|user-1|title||"
FIELDS = ("item_id", "title_key")
KEY = {"item_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "title_key": "alien\x0001ARZ3NDEKTSV4RRFFQ69G5FAV"}
BASE64URL = string.ascii_letters + string.digits + "-_"
# What cursors were before they were sealed: base64 JSON, the key in clear.
UNSEALED = base64.urlsafe_b64encode(json.dumps({"q": "title||", "k": KEY}).encode()).decode().rstrip("=")


def _codec(signing_key: str = TEST_SIGNING_KEY) -> CursorCodec:
    return CursorCodec(lambda: signing_key)


def _refused(codec: CursorCodec, cursor: str, scope: str = SCOPE, fields: tuple[str, ...] = FIELDS) -> None:
    with pytest.raises(InvalidInputError) as raised:
        codec.decode(cursor, scope, fields)
    assert raised.value.field == ("query", "cursor")


def test_a_cursor_round_trips_for_its_own_list_and_is_the_same_for_the_same_page() -> None:
    codec = _codec()
    cursor = codec.encode(SCOPE, KEY)
    assert codec.decode(cursor, SCOPE, FIELDS) == KEY
    assert codec.encode(SCOPE, KEY) == cursor  # deterministic: a page's ETag stays the same
    assert _codec().decode(cursor, SCOPE, FIELDS) == KEY  # another instance with the same signing key


def test_a_cursor_carries_no_title_or_key_in_clear() -> None:
    title_key = "my secret diary entry\x0001ARZ3NDEKTSV4RRFFQ69G5FAV"
    cursor = _codec().encode(SCOPE, {"item_id": KEY["item_id"], "title_key": title_key})
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for clear in (b"secret", b"diary", KEY["item_id"].encode(), b"title_key", b"items|user-1"):
        assert clear not in raw
    assert "secret" not in cursor


def test_every_single_character_change_truncation_or_extension_is_refused() -> None:
    codec = _codec()
    cursor = codec.encode(SCOPE, KEY)
    for position, character in enumerate(cursor):
        replacement = BASE64URL[(BASE64URL.index(character) + 1) % len(BASE64URL)]
        _refused(codec, cursor[:position] + replacement + cursor[position + 1 :])
    for length in range(len(cursor)):
        _refused(codec, cursor[:length])
    for extra in ("A", "AA", "AAAA", "="):
        _refused(codec, cursor + extra)


@pytest.mark.parametrize(
    ("scope", "fields"),
    [
        ("items|user-2|title||", FIELDS),  # another user's list
        ("items|user-1|-title||", FIELDS),  # another sort
        ("items|user-1|title|movie|", FIELDS),  # another filter
        ("users", FIELDS),  # another resource
        (SCOPE, ("item_id",)),  # another shape of key
    ],
    ids=["other-user", "other-sort", "other-filter", "other-resource", "other-key-fields"],
)
def test_a_cursor_issued_for_another_list_is_refused(scope: str, fields: tuple[str, ...]) -> None:
    codec = _codec()
    _refused(codec, codec.encode(SCOPE, KEY), scope, fields)


def test_a_cursor_sealed_under_another_signing_key_is_refused_and_the_key_rotates_with_it() -> None:
    signing_key = ["a" * 64]
    codec = CursorCodec(lambda: signing_key[0])
    old = codec.encode(SCOPE, KEY)
    _refused(_codec("b" * 64), old)
    signing_key[0] = "b" * 64  # rotated: read on each use
    _refused(codec, old)
    assert _codec("b" * 64).decode(codec.encode(SCOPE, KEY), SCOPE, FIELDS) == KEY


def test_the_cursor_key_is_derived_from_the_signing_key_not_the_signing_key_itself() -> None:
    derived = cursor_key(TEST_SIGNING_KEY)
    assert derived == hmac.digest(TEST_SIGNING_KEY.encode(), CURSOR_KEY_LABEL, hashlib.sha256)
    assert derived != TEST_SIGNING_KEY.encode()
    assert cursor_key("b" * 64) != derived


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64 at all ~~", "bnVsbA", UNSEALED, "é" * 20, "A" * 5000],
    ids=["empty", "garbage", "json-null", "unsealed-json", "not-ascii", "too-long"],
)
def test_anything_not_sealed_by_the_api_is_refused(cursor: str) -> None:
    _refused(_codec(), cursor)


def test_key_parts_are_bounded_in_bytes_not_characters() -> None:
    """DynamoDB refuses a sort key over 1,024 bytes (a ValidationException): 600 two-byte characters are 1,200."""
    codec = _codec()
    for part, accepted in (("é" * 512, True), ("é" * 513, False), ("x" * MAX_KEY_PART_BYTES, True)):
        cursor = codec.encode(SCOPE, {"item_id": KEY["item_id"], "title_key": part})
        if accepted:
            assert codec.decode(cursor, SCOPE, FIELDS)["title_key"] == part
        else:
            _refused(codec, cursor)


@pytest.mark.parametrize("title", ["ΐ" * 200, "\U0001f600" * 200, '"' * 200])
def test_the_longest_title_cursor_fits_the_routers_cursor_length(title: str) -> None:
    item_id = KEY["item_id"]
    key = {"item_id": item_id, "title_key": derived_keys(item_id, {"title": title, "type": "movie"})["title_key"]}
    scope = f"items|{item_id}|{ItemSort.TITLE_DESC.value}|movie|completed"
    cursor = _codec().encode(scope, key)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert _codec().decode(cursor, scope, FIELDS) == key


@pytest.mark.parametrize("sort", [ItemSort.CREATED_AT_DESC, ItemSort.TITLE])
def test_a_bad_cursor_is_refused_before_any_dynamodb_request(services: Services, sort: ItemSort) -> None:
    user = services.auth.register(Registration(email="pager@example.com", password="p" * 10))
    for title in ("Alien", "Brazil", "Casablanca"):
        services.watchlists.add(user.id, ItemDraft.model_validate({"title": title, "type": "movie"}))
    cursor = services.watchlists.list(user.id, ItemQuery(sort=sort, limit=1)).next_cursor
    assert cursor
    other = services.auth.register(Registration(email="other@example.com", password="p" * 10))
    bad = {
        "altered": cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1],
        "truncated": cursor[:-4],
        "another user's": cursor,
        "another sort": cursor,
    }
    for name, given in bad.items():
        owner = other.id if name == "another user's" else user.id
        asked = ItemSort.RATING if name == "another sort" else sort
        with tally_aws_calls("dynamodb") as dynamodb, pytest.raises(InvalidInputError):
            services.watchlists.list(owner, ItemQuery(sort=asked, limit=1, cursor=given))
        assert dynamodb.total == 0, (name, dynamodb.operations)


def test_bad_user_and_audit_cursors_are_refused_before_any_dynamodb_request(services: Services) -> None:
    admin = services.auth.ensure_admin("root@example.com", "p" * 10)[0]
    assert admin.role is Role.ADMIN
    for n in range(2):
        services.auth.register(Registration(email=f"u{n}@example.com", password="p" * 10))
    cursor = services.admin.list_users(1, None).next_cursor
    assert cursor
    events = AuditEventStore(1, _codec())
    for _ in range(2):
        assert events.add_once(new_event(AuditAction.ITEM_CREATED, actor_id=admin.id))
    trail = services.admin.audit_trail(AuditQuery(limit=1)).next_cursor
    assert trail
    with tally_aws_calls("dynamodb") as dynamodb:
        for given in (cursor[:-1], cursor + "A", _codec("b" * 64).encode("users", {"directory_key": "z"}), trail):
            with pytest.raises(InvalidInputError):
                services.admin.list_users(1, given)
        for given in (trail[:-1], cursor, _codec("b" * 64).encode("audit||||||", {"id": "z"})):
            with pytest.raises(InvalidInputError):
                services.admin.audit_trail(AuditQuery(limit=1, cursor=given))
        with pytest.raises(InvalidInputError):  # a request's events are one page: no cursor is ever theirs
            services.admin.audit_trail(
                AuditQuery(limit=1, cursor=trail, trace_id="1-5759e988-bd862e3fe1be46a994272793")
            )
    assert dynamodb.total == 0
