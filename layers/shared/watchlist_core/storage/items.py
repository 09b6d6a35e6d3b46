"""Data access for watchlist items and the per-user item counts that answer `total`.

Every list read is a strongly consistent Query on the user's partition (base table or one of
its local secondary indexes), so a page costs about one page of reads and is never stale.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import batched, islice
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from watchlist_core.audit.message import AuditEvent
from watchlist_core.domain import (
    ItemQuery,
    ItemStatus,
    ItemType,
    Page,
    WatchlistItem,
)
from watchlist_core.errors import ConflictError, DependencyUnavailableError, DomainError, NotFoundError
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import CursorCodec, dynamodb_key
from watchlist_core.storage.tables import ItemRecord, UserRecord
from watchlist_core.storage.transactions import NamedWrites, run_transaction
from watchlist_core.storage.users import user_pk

# Sorts by something other than creation use a key `<value>\x00<item id>`: NUL sorts below every
# other character, so "Alien" comes before "Aliens", and equal values keep creation order.
_SEPARATOR = "\x00"
_MISSING_NUMBER = "0000"  # no rating or year sorts as the lowest value
_SORT_PREFIX_BYTES = 1024 - len(_SEPARATOR) - 26  # DynamoDB's sort key limit, less the separator and a ULID
# The writes of an item's transactions, by name (storage/transactions.py).
_ITEM = "item"
_OWNER = "owner's counts"
# A purge's deletions: BatchWriteItem takes 25 at most; a few requests at once, below PynamoDB's ten pooled
# connections (bench/account_deletion.py measures it). One user's items share a partition, which takes about 1,000
# write units a second (five per item: the item and its four index entries), so more requests at once would only
# be throttled in AWS.
_BATCH_WRITE_LIMIT = 25
_PURGE_THREADS = 4
# What a purge may spend in one request: the API function's timeout is 10 s, and the account's transaction, a second
# purge and the sessions follow it.
PURGE_BUDGET_SECONDS = 5.0
_purge_pool = ThreadPoolExecutor(max_workers=_PURGE_THREADS, thread_name_prefix="item-purge")
# What DynamoDB leaves unprocessed in a batch is sent again this often, after random pauses of up to 0.1, 0.2, 0.4 s.
_UNPROCESSED_RETRIES = 3
_UNPROCESSED_PAUSE_SECONDS = 0.05
# Every write of the owner's counts needs the owner's account: once an account is deleted, no item can be added to
# it, and no item write still under way brings back a stub of the account holding only counts.
_OWNER_EXISTS = UserRecord.pk.exists()
_ITEM_REFUSALS: dict[str, Callable[[], DomainError]] = {
    _ITEM: lambda: ConflictError("The item changed concurrently."),
    _OWNER: lambda: NotFoundError("No such user."),
}


@dataclass(frozen=True)
class _Access:
    """Where a list query reads: the base table or an LSI, and the attribute it is ordered by."""

    index: Any
    range_key: str | None


_BY_CREATION = _Access(index=ItemRecord, range_key=None)
_BY_TYPE = _Access(index=ItemRecord.by_type, range_key="type_key")
_BY_SORT_FIELD = {
    "title": _Access(index=ItemRecord.by_title, range_key="title_key"),
    "rating": _Access(index=ItemRecord.by_rating, range_key="rating_key"),
    "year": _Access(index=ItemRecord.by_year, range_key="year_key"),
}


def _sortable_number(value: int | None) -> str:
    return _MISSING_NUMBER if value is None else f"{value:04d}"


def _within_key_limit(text: str) -> str:
    """`text` cut, on a character boundary, to what a sort key holds beside the separator and an item id
    (DynamoDB: 1,024 bytes): casefolding can grow a title (200 x 'ΐ' is 1,200 bytes)."""
    return text.encode()[:_SORT_PREFIX_BYTES].decode("utf-8", errors="ignore")


def derived_keys(item_id: str, fields: dict[str, Any]) -> dict[str, str]:
    """The index sort keys of an item with these field values."""
    return {
        "type_key": f"{fields['type']}#{item_id}",
        "title_key": _within_key_limit(fields["title"].casefold()) + _SEPARATOR + item_id,
        "rating_key": _sortable_number(fields.get("rating")) + _SEPARATOR + item_id,
        "year_key": _sortable_number(fields.get("year")) + _SEPARATOR + item_id,
    }


def count_field(item_type: str, status: str) -> str:
    return f"{item_type}_{status}"


def _to_item(record: ItemRecord) -> WatchlistItem:
    return WatchlistItem.model_validate(
        {
            "id": record.item_id,
            "title": record.title,
            "type": record.type,
            "year": int(record.year) if record.year is not None else None,
            "status": record.status,
            "rating": int(record.rating) if record.rating is not None else None,
            "notes": record.notes,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "version": record.version,
        }
    )


def _count_action(item_type: str, status: str, delta: int) -> Action:
    counter = UserRecord.item_counts[count_field(item_type, status)]
    action: Action = counter.set((counter | 0) + delta)
    return action


class ItemStore:
    """Every write commits its audit event to the outbox in the same transaction."""

    def __init__(self, connection: Connection, outbox: OutboxStore, cursors: CursorCodec) -> None:
        self._connection = connection
        self._outbox = outbox
        self._cursors = cursors

    def get(self, user_id: str, item_id: str) -> WatchlistItem | None:
        try:
            return _to_item(ItemRecord.get(user_id, item_id, consistent_read=True))
        except DoesNotExist:
            return None

    def create(self, user_id: str, item: WatchlistItem, audit: AuditEvent) -> WatchlistItem:
        fields: dict[str, Any] = item.model_dump(mode="json", exclude={"id", "version"})
        record = ItemRecord(user_id=user_id, item_id=item.id, **(fields | derived_keys(item.id, fields)))

        def build(writes: NamedWrites) -> None:
            writes.put(_ITEM, record, condition=ItemRecord.item_id.does_not_exist())
            writes.update(
                _OWNER,
                UserRecord(pk=user_pk(user_id)),
                actions=[_count_action(item.type, item.status, 1)],
                condition=_OWNER_EXISTS,
            )
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, _ITEM_REFUSALS)
        return _to_item(record)

    def update(self, user_id: str, current: WatchlistItem, updated: WatchlistItem, audit: AuditEvent) -> WatchlistItem:
        """Write `updated` if the stored item is still at `current.version`, else ConflictError."""
        old = current.model_dump(mode="json")
        new = updated.model_dump(mode="json", exclude={"id", "created_at", "version"})
        changed: dict[str, Any] = {name: value for name, value in new.items() if old.get(name) != value}
        changed |= derived_keys(current.id, new)
        record = ItemRecord(user_id=user_id, item_id=current.id, version=current.version)
        actions = [
            getattr(ItemRecord, name).remove() if value is None else getattr(ItemRecord, name).set(value)
            for name, value in changed.items()
        ]

        def build(writes: NamedWrites) -> None:
            writes.update(_ITEM, record, actions=actions)  # PynamoDB adds the condition: still at `version`
            if (current.type, current.status) != (updated.type, updated.status):
                writes.update(
                    _OWNER,
                    UserRecord(pk=user_pk(user_id)),
                    actions=[
                        _count_action(current.type, current.status, -1),
                        _count_action(updated.type, updated.status, 1),
                    ],
                    condition=_OWNER_EXISTS,
                )
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, _ITEM_REFUSALS)
        return updated.model_copy(update={"version": current.version + 1})

    def delete(self, user_id: str, current: WatchlistItem, audit: AuditEvent) -> None:
        """Delete the item if it is still at `current.version`, else ConflictError."""
        record = ItemRecord(user_id=user_id, item_id=current.id, version=current.version)

        def build(writes: NamedWrites) -> None:
            writes.delete(_ITEM, record)  # PynamoDB adds the condition: still at `version`
            writes.update(
                _OWNER,
                UserRecord(pk=user_pk(user_id)),
                actions=[_count_action(current.type, current.status, -1)],
                condition=_OWNER_EXISTS,
            )
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, _ITEM_REFUSALS)

    def all_of(self, user_id: str) -> list[WatchlistItem]:
        """Every item of the user, newest first: its partition, read strongly, a megabyte a request."""
        records = ItemRecord.query(user_id, consistent_read=True, scan_index_forward=False)
        return [_to_item(record) for record in records]

    def purge(self, user_id: str) -> int:
        """Delete every item of the user, and say how many: their keys read from the partition (a keys-only Query, a
        megabyte of items a request), deleted 25 a request (BatchWriteItem's limit) by a few requests at once, while
        the next keys are read. The owner's counts are left as they are: a purge precedes the account's deletion.

        A partition takes about 1,000 writes a second (an item and its four index entries are five), so a large
        watchlist takes longer than one request may: past PURGE_BUDGET_SECONDS no batch is begun, and when items are
        left DependencyUnavailableError says so. Items deleted stay deleted: a purge run again deletes the rest."""
        deadline = time.monotonic() + PURGE_BUDGET_SECONDS
        keys = ItemRecord.query(user_id, consistent_read=True, attributes_to_get=["item_id"])
        deletions: list[Future[int]] = []
        try:
            for batch in batched(keys, _BATCH_WRITE_LIMIT, strict=False):
                if time.monotonic() > deadline:
                    sum(deletion.result() for deletion in deletions)  # what was begun, finished (or its error)
                    raise DependencyUnavailableError(
                        "More items than one request can delete: those deleted so far stay deleted; repeat the "
                        "request to go on.",
                        retry_after_seconds=1,
                    )
                deletions.append(_purge_pool.submit(_delete_items, user_id, [record.item_id for record in batch]))
            return sum(deletion.result() for deletion in deletions)
        finally:
            for deletion in deletions:  # after a failure, those not begun: the request fails as soon as one has
                deletion.cancel()

    def list(self, user_id: str, query: ItemQuery) -> Page[WatchlistItem]:
        access = _BY_SORT_FIELD.get(query.sort.field)
        if access is None:
            access = _BY_TYPE if query.type else _BY_CREATION
        key_fields = ("item_id",) + ((access.range_key,) if access.range_key else ())
        scope = _scope(user_id, query)
        start = None
        if query.cursor:  # opened before anything is read: a bad cursor costs no request
            start = dynamodb_key({"user_id": user_id, **self._cursors.decode(query.cursor, scope, key_fields)})
        range_condition = None
        filters: list[Condition] = []
        if access is _BY_TYPE:
            range_condition = ItemRecord.type_key.startswith(f"{query.type}#")
        elif query.type:
            filters.append(ItemRecord.type == query.type.value)
        if query.status:
            filters.append(ItemRecord.status == query.status.value)

        wanted = query.skip + query.limit + 1
        # A filter drops items after DynamoDB reads them: ask for more per request, to need fewer requests.
        page_size = min(1000, wanted * 4 if filters else wanted)
        results: Iterable[ItemRecord] = access.index.query(
            user_id,
            range_key_condition=range_condition,
            filter_condition=_all_of(filters),
            scan_index_forward=not query.sort.descending,
            consistent_read=True,
            last_evaluated_key=start,
            limit=wanted,
            page_size=page_size,
        )
        records = list(islice(results, query.skip, wanted))
        next_cursor = None
        if len(records) > query.limit:
            records = records[: query.limit]
            last = records[-1]
            next_cursor = self._cursors.encode(scope, {field: getattr(last, field) for field in key_fields})
        return Page[WatchlistItem](
            items=[_to_item(r) for r in records],
            next_cursor=next_cursor,
            total=self.count(user_id, query.type, query.status),
        )

    def count(self, user_id: str, item_type: ItemType | None, status: ItemStatus | None) -> int:
        try:
            record = UserRecord.get(user_pk(user_id), consistent_read=True, attributes_to_get=["item_counts"])
        except DoesNotExist:
            return 0
        counts = record.item_counts.as_dict() if record.item_counts else {}
        return sum(
            int(counts.get(count_field(t, s), 0))
            for t in ([item_type] if item_type else list(ItemType))
            for s in ([status] if status else list(ItemStatus))
        )


def _delete_items(user_id: str, item_ids: list[str]) -> int:
    """One BatchWriteItem deleting these items. What DynamoDB leaves unprocessed (it throttles a partition written
    faster than it takes) is sent again after a pause, a few times; then DependencyUnavailableError: the caller
    retries later, and a purge run again finds what is left."""
    pending = item_ids
    for attempt in range(_UNPROCESSED_RETRIES + 1):
        if attempt:
            time.sleep(random.uniform(0, _UNPROCESSED_PAUSE_SECONDS * 2**attempt))  # noqa: S311 (jitter, not security)
        batch = ItemRecord.batch_write(auto_commit=False)
        for item_id in pending:
            batch.delete(ItemRecord(user_id=user_id, item_id=item_id))
        try:
            batch.commit()
        except PutError:
            if not batch.failed_operations:  # no answer, or an error: not a throttled part of the batch
                raise
            pending = [operation["DeleteRequest"]["Key"]["item_id"]["S"] for operation in batch.failed_operations]
            continue
        return len(item_ids)
    raise DependencyUnavailableError("The items are being deleted more slowly than asked; retry shortly.")


def _scope(user_id: str, query: ItemQuery) -> str:
    """What a list's cursors are bound to: whose items, in which order, with which filters."""
    return f"items|{user_id}|{query.sort.value}|{query.type or ''}|{query.status or ''}"


def _all_of(conditions: list[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined
