"""A user's own watchlist: create, read, change, delete and list items."""

from __future__ import annotations

from ulid import ULID

from watchlist_core.audit.events import field_changes, item_target, new_event
from watchlist_core.audit.message import AuditAction
from watchlist_core.domain import ItemChanges, ItemDraft, ItemQuery, Page, WatchlistItem, utc_now
from watchlist_core.errors import ConflictError, NotFoundError, PreconditionFailedError
from watchlist_core.services.audit_delivery import AuditTrail
from watchlist_core.services.ports import DataChangeListener
from watchlist_core.storage.items import ItemStore

ITEM_NOT_FOUND = "No such item in this watchlist."
# A write that lost a race re-reads and retries this often before reporting the conflict.
WRITE_ATTEMPTS = 3


class WatchlistService:
    def __init__(self, items: ItemStore, changes: DataChangeListener, audit: AuditTrail) -> None:
        self._items = items
        self._changes = changes
        self._audit = audit

    def list(self, owner_id: str, query: ItemQuery) -> Page[WatchlistItem]:
        return self._items.list(owner_id, query)

    def add(self, owner_id: str, draft: ItemDraft) -> WatchlistItem:
        now = utc_now()
        item = WatchlistItem(id=str(ULID()), created_at=now, updated_at=now, version=1, **draft.model_dump())
        event = new_event(AuditAction.ITEM_CREATED, actor_id=owner_id, target=item_target(owner_id, item.id))
        created = self._items.create(owner_id, item, event)
        self._changes.user_data_changed(owner_id)
        self._audit.publish_committed(event)
        return created

    def get(self, owner_id: str, item_id: str) -> WatchlistItem:
        item = self._items.get(owner_id, item_id)
        if item is None:
            raise NotFoundError(ITEM_NOT_FOUND)
        return item

    def change(
        self, owner_id: str, item_id: str, changes: ItemChanges, expected_versions: frozenset[int] | None = None
    ) -> WatchlistItem:
        """Apply a partial update; with `expected_versions` (If-Match) only to one of those versions. A change
        that sets every field to the value it has is no change: nothing is written, versioned or audited."""
        fields = changes.changed_fields()
        for _ in range(WRITE_ATTEMPTS):
            current = self._current(owner_id, item_id, expected_versions)
            difference = field_changes(
                current.model_dump(mode="json"), changes.model_dump(mode="json", exclude_unset=True)
            )
            if not difference:
                return current
            updated = WatchlistItem.model_validate(current.model_dump() | fields | {"updated_at": utc_now()})
            event = new_event(
                AuditAction.ITEM_UPDATED, actor_id=owner_id, target=item_target(owner_id, item_id), changes=difference
            )
            try:
                changed = self._items.update(owner_id, current, updated, event)
            except ConflictError:
                continue
            self._changes.user_data_changed(owner_id)
            self._audit.publish_committed(event)
            return changed
        raise ConflictError("The item kept changing concurrently; retry.")

    def remove(
        self,
        owner_id: str,
        item_id: str,
        expected_versions: frozenset[int] | None = None,
        *,
        moderator_id: str | None = None,
    ) -> None:
        """Delete an item: its owner's own deletion, or an admin's (`moderator_id`), audited as such."""
        action = AuditAction.ADMIN_ITEM_DELETED if moderator_id else AuditAction.ITEM_DELETED
        for _ in range(WRITE_ATTEMPTS):
            current = self._current(owner_id, item_id, expected_versions)
            event = new_event(action, actor_id=moderator_id or owner_id, target=item_target(owner_id, item_id))
            try:
                self._items.delete(owner_id, current, event)
            except ConflictError:
                continue
            self._changes.user_data_changed(owner_id)
            self._audit.publish_committed(event)
            return
        raise ConflictError("The item kept changing concurrently; retry.")

    def _current(self, owner_id: str, item_id: str, expected_versions: frozenset[int] | None) -> WatchlistItem:
        current = self.get(owner_id, item_id)
        if expected_versions is not None and current.version not in expected_versions:
            raise PreconditionFailedError("The item has changed since you read it (If-Match failed).")
        return current
