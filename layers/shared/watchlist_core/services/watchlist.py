"""A user's own watchlist: create, read, change, delete and list items."""

from __future__ import annotations

from ulid import ULID

from watchlist_core.domain import ItemChanges, ItemDraft, ItemQuery, Page, WatchlistItem, utc_now
from watchlist_core.errors import ConflictError, NotFoundError, PreconditionFailedError
from watchlist_core.services.changes import DataChangeListener
from watchlist_core.storage.items import ItemStore

ITEM_NOT_FOUND = "No such item in this watchlist."
# A write that lost a race re-reads and retries this often before reporting the conflict.
WRITE_ATTEMPTS = 3


class WatchlistService:
    def __init__(self, items: ItemStore, changes: DataChangeListener) -> None:
        self._items = items
        self._changes = changes

    def list(self, owner_id: str, query: ItemQuery) -> Page[WatchlistItem]:
        return self._items.list(owner_id, query)

    def add(self, owner_id: str, draft: ItemDraft) -> WatchlistItem:
        now = utc_now()
        item = WatchlistItem(id=str(ULID()), created_at=now, updated_at=now, version=1, **draft.model_dump())
        created = self._items.create(owner_id, item)
        self._changes.user_data_changed(owner_id)
        return created

    def get(self, owner_id: str, item_id: str) -> WatchlistItem:
        item = self._items.get(owner_id, item_id)
        if item is None:
            raise NotFoundError(ITEM_NOT_FOUND)
        return item

    def change(
        self, owner_id: str, item_id: str, changes: ItemChanges, expected_versions: frozenset[int] | None = None
    ) -> WatchlistItem:
        """Apply a partial update; with `expected_versions` (If-Match) only to one of those versions."""
        fields = changes.changed_fields()
        for _ in range(WRITE_ATTEMPTS):
            current = self._current(owner_id, item_id, expected_versions)
            if not fields:
                return current
            updated = WatchlistItem.model_validate(current.model_dump() | fields | {"updated_at": utc_now()})
            try:
                changed = self._items.update(owner_id, current, updated)
            except ConflictError:
                continue
            self._changes.user_data_changed(owner_id)
            return changed
        raise ConflictError("The item kept changing concurrently; retry.")

    def remove(self, owner_id: str, item_id: str, expected_versions: frozenset[int] | None = None) -> None:
        for _ in range(WRITE_ATTEMPTS):
            current = self._current(owner_id, item_id, expected_versions)
            try:
                self._items.delete(owner_id, current)
            except ConflictError:
                continue
            self._changes.user_data_changed(owner_id)
            return
        raise ConflictError("The item kept changing concurrently; retry.")

    def _current(self, owner_id: str, item_id: str, expected_versions: frozenset[int] | None) -> WatchlistItem:
        current = self.get(owner_id, item_id)
        if expected_versions is not None and current.version not in expected_versions:
            raise PreconditionFailedError("The item has changed since you read it (If-Match failed).")
        return current
