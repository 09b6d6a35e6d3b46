"""Write-sharded keys against in-process moto: the merged queries keep their order, cursors and filters, and data
stored in the layout before sharding reads the same before and after infra/aws/migrate_keys.py moves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from ulid import ULID

from infra.aws import migrate_keys
from infra.aws.calls import tally_aws_calls
from watchlist_core.audit.events import new_event
from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.audit.queries import AuditPage, AuditQuery
from watchlist_core.domain import Page, Registration, Role, User
from watchlist_core.settings import get_settings
from watchlist_core.storage.audit_events import AuditEventStore, cursor_scope
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.shards import Moved
from watchlist_core.wiring import Services, signing_key

RETENTION_DAYS = 1


def _all_pages(read: Callable[[str | None], AuditPage | Page[User]]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = read(cursor)
        ids += [entry.id for entry in page.items]
        if not page.next_cursor:
            return ids
        cursor = page.next_cursor


def _trail(store: AuditEventStore, limit: int, **query: Any) -> list[str]:
    return _all_pages(lambda cursor: store.list(AuditQuery(limit=limit, cursor=cursor, **query)))


def _users(services: Services, limit: int) -> list[str]:
    return _all_pages(lambda cursor: services.admin.list_users(limit, cursor))


def _dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=get_settings().aws_region)


def _index_keys(table: str, index: str, key: str) -> set[str]:
    pages = _dynamodb().get_paginator("scan").paginate(TableName=table, IndexName=index)
    return {item[key]["S"] for page in pages for item in page["Items"]}


def _millisecond(event_id: str) -> int:
    return ULID.from_str(event_id).milliseconds


def test_the_trail_merges_its_shards_newest_first_keeping_cursors_and_filters(services: Services) -> None:
    store = AuditEventStore(RETENTION_DAYS, CursorCodec(signing_key))
    events = [
        new_event(AuditAction.LOGIN_SUCCEEDED if n % 3 == 0 else AuditAction.ITEM_CREATED, actor_id=f"actor-{n % 2}")
        for n in range(45)
    ]
    for event in events:
        assert store.add_once(event)
    newest_first = sorted((event.id for event in events), reverse=True)

    assert _trail(store, 7) == newest_first
    assert _trail(store, 100) == newest_first  # one page
    logins = [
        e for e in newest_first if e in {event.id for event in events if event.action is AuditAction.LOGIN_SUCCEEDED}
    ]
    assert _trail(store, 4, action=AuditAction.LOGIN_SUCCEEDED) == logins
    actor_items = {e.id for e in events if e.actor_id == "actor-1" and e.action is AuditAction.ITEM_CREATED}
    assert _trail(store, 3, actor_id="actor-1", action=AuditAction.ITEM_CREATED) == [
        e for e in newest_first if e in actor_items
    ]
    middle = newest_first[20]
    since = datetime.fromtimestamp(_millisecond(middle) / 1000, UTC)
    assert _trail(store, 6, since=since) == [e for e in newest_first if _millisecond(e) >= _millisecond(middle)]
    assert _trail(store, 6, since=since + timedelta(days=1)) == []
    # A cursor pointing below `since` (none is issued: it takes the cursor key to seal one) ends the trail unasked:
    # DynamoDB refuses a `between` whose bounds are reversed (moto does not).
    query = AuditQuery(limit=2, since=since)
    forged = CursorCodec(signing_key).encode(cursor_scope(query), {"id": "0"})
    with tally_aws_calls("dynamodb") as dynamodb:
        assert store.list(replace(query, cursor=forged)).items == []
    assert dynamodb.total == 0

    streams = _index_keys(get_settings().audit_table, "by_time", "stream")
    assert len(streams) > 8  # 45 events over 16 shards
    assert all(stream.startswith("audit#") for stream in streams)


def test_the_user_list_merges_its_shards_oldest_first_and_item_counts_stay_out_of_the_index(
    services: Services,
) -> None:
    users = [services.auth.register(Registration(email=f"u{n}@example.com", password="p" * 10)) for n in range(12)]
    oldest_first = [user.id for user in sorted(users, key=lambda user: (user.created_at, user.id))]

    assert _users(services, 5) == oldest_first
    assert services.admin.list_users(5, None).total == 12
    table = get_settings().users_table
    indexed = _index_keys(table, "directory", "pk")
    assert indexed == {f"DIR#{user_id}" for user_id in oldest_first}  # no account (USER#) record is in the index
    assert len(_index_keys(table, "directory", "directory")) > 3  # 12 users over 8 shards
    tallies = _dynamodb().scan(
        TableName=table, FilterExpression="begins_with(pk, :t)", ExpressionAttributeValues={":t": {"S": "TALLY#users"}}
    )["Items"]
    assert len(tallies) > 3
    assert all(item["pk"]["S"].startswith("TALLY#users#") for item in tallies)


# What the code before sharding (commit 2262855) stored, attribute for attribute: each account in the directory
# index under `USER`, one user tally, every audit event under `audit` and its bare action.
def _store_unsharded_account(user_id: str, created_at: str) -> None:
    _dynamodb().put_item(
        TableName=get_settings().users_table,
        Item={
            "pk": {"S": f"USER#{user_id}"},
            "user_id": {"S": user_id},
            "email": {"S": f"{user_id.lower()}@example.com"},
            "display_name": {"S": f"Legacy {user_id}"},
            "role": {"S": "user"},
            "password_hash": {"S": "$argon2id$not-a-real-hash"},
            "created_at": {"S": created_at},
            "item_counts": {"M": {"movie#want_to_watch": {"N": "2"}}},
            "directory": {"S": "USER"},
            "directory_key": {"S": f"{created_at}#{user_id}"},
        },
    )
    _dynamodb().put_item(
        TableName=get_settings().users_table,
        Item={"pk": {"S": f"EMAIL#{user_id.lower()}@example.com"}, "user_id": {"S": user_id}},
    )


def _store_unsharded_event(event: AuditEvent) -> None:
    _dynamodb().put_item(
        TableName=get_settings().audit_table,
        Item={
            "id": {"S": event.id},
            "stream": {"S": "audit"},
            "action": {"S": event.action.value},
            "actor_id": {"S": event.actor_id or ""},
            "body": {"S": event.model_dump_json()},
            "expires_at": {"N": str(int(event.occurred_at.timestamp()) + 86400)},
        },
    )


def test_data_stored_before_sharding_reads_the_same_before_and_after_the_migration(services: Services) -> None:
    store = AuditEventStore(RETENTION_DAYS, CursorCodec(signing_key))
    legacy_ids = [str(ULID()) for _ in range(3)]
    for n, user_id in enumerate(legacy_ids):
        _store_unsharded_account(user_id, f"2026-01-0{n + 1}T00:00:00Z")
    _dynamodb().put_item(
        TableName=get_settings().users_table, Item={"pk": {"S": "TALLY#users"}, "value": {"N": str(len(legacy_ids))}}
    )
    legacy_events = [new_event(AuditAction.ITEM_CREATED, actor_id=legacy_ids[n % 3]) for n in range(7)]
    for event in legacy_events:
        _store_unsharded_event(event)
    # Written by today's code, after the deployment and before the migration.
    new_users = [services.auth.register(Registration(email=f"new{n}@example.com", password="p" * 10)) for n in range(2)]
    admin = services.auth.ensure_admin("root@example.com", "p" * 10)[0]
    for event in [new_event(AuditAction.ITEM_CREATED, actor_id=legacy_ids[0]) for _ in range(4)]:
        assert store.add_once(event)
    # A role change moves a legacy account to the new layout itself (its entry, out of the index: listed once).
    promoted = services.admin.change_role(admin.id, legacy_ids[2], Role.ADMIN)
    assert promoted.role is Role.ADMIN

    def everything() -> tuple[list[str], int, list[str], list[str], list[str], list[str]]:
        return (
            _users(services, 2),
            services.admin.list_users(2, None).total or 0,
            _trail(store, 3),
            _trail(store, 3, action=AuditAction.ITEM_CREATED),
            _trail(store, 2, actor_id=legacy_ids[0], action=AuditAction.ITEM_CREATED),
            [user.role.value for user in services.admin.list_users(100, None).items],
        )

    before = everything()
    assert before[0] == [*legacy_ids, *(user.id for user in new_users), admin.id]
    assert before[1] == len(legacy_ids) + len(new_users) + 1
    assert len(before[3]) == len(legacy_events) + 4
    assert len(before[4]) == 3 + 4  # legacy_ids[0] acted in events 0, 3, 6, and in the four new ones
    assert before[5][:3] == ["user", "user", "admin"]

    report = migrate_keys.migrate()
    assert report == {
        "directory entries": Moved(moved=2),
        "user tally": Moved(moved=3),
        "audit events": Moved(moved=len(legacy_events)),
    }
    assert everything() == before
    table, audit_table = get_settings().users_table, get_settings().audit_table
    assert "USER" not in _index_keys(table, "directory", "directory")
    assert "TALLY#users" not in {item["pk"]["S"] for item in _dynamodb().scan(TableName=table)["Items"]}
    assert "audit" not in _index_keys(audit_table, "by_time", "stream")
    assert not {"item.created", "auth.login_succeeded"} & _index_keys(audit_table, "by_action", "action")
    # The accounts keep what only they hold.
    account = _dynamodb().get_item(TableName=table, Key={"pk": {"S": f"USER#{legacy_ids[0]}"}})["Item"]
    assert account["item_counts"] == {"M": {"movie#want_to_watch": {"N": "2"}}}
    assert "directory" not in account

    assert migrate_keys.migrate() == dict.fromkeys(report, Moved())  # nothing left to move
