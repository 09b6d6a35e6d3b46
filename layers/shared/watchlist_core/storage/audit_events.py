"""Data access for stored audit events: written once per event id, read newest first through three indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pynamodb.expressions.update import Action
from ulid import ULID

from watchlist_core.audit.message import AuditEvent
from watchlist_core.audit.queries import AuditPage, AuditQuery
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.shards import Moved, query_in_order, shard_key, shard_keys
from watchlist_core.storage.tables import AuditEventRecord, AuditLookupRecord
from watchlist_core.storage.transactions import conditional_write

# Every event is in one shard of the time index (`audit#<k>`) and of the action index (`<action>#<k>`), the same
# k for both, from its id. Sixteen shards take 16,000 event writes a second, four times the trail at 50,000 rps.
STREAM = "audit"
SHARDS = 16


def _partitions(base: str) -> list[str]:
    """The shards of a key, and the bare key itself: events stored before the indexes were sharded are under it
    until `python -m infra.aws.migrate_keys` moves them."""
    return [*shard_keys(base, SHARDS), base]


def _lowest_id_at(moment: datetime) -> str:
    """The smallest ULID of that millisecond: every event at or after `moment` sorts at or above it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # RFC 3339 without an offset: read as UTC, like every stored time
    # ULIDs start at the Unix epoch and end in 10889: a moment outside means everything, or nothing yet.
    milliseconds = min(max(int(moment.timestamp() * 1000), 0), 2**48 - 1)
    return str(ULID.from_bytes(milliseconds.to_bytes(6, "big") + bytes(10)))


def cursor_scope(query: AuditQuery) -> str:
    """What a trail's cursors are bound to: its filters."""
    since = query.since.isoformat() if query.since else ""
    request = f"{query.trace_id or ''}|{query.gateway_request_id or ''}"
    return f"audit|{query.actor_id or ''}|{query.action or ''}|{since}|{request}"


def _lookup_keys(trace_id: str | None, gateway_request_id: str | None) -> list[str]:
    return [f"{kind}#{value}" for kind, value in (("trace", trace_id), ("gateway", gateway_request_id)) if value]


class AuditEventStore:
    def __init__(self, retention_days: int, cursors: CursorCodec) -> None:
        """`cursors` opens and seals the trail's cursors: only `list` uses it (the audit function never does)."""
        self._retention = timedelta(days=retention_days)
        self._cursors = cursors

    def add_once(self, event: AuditEvent) -> bool:
        """Store the event unless one with its id is stored already; False for such a duplicate."""
        record = AuditEventRecord(
            id=event.id,
            stream=shard_key(STREAM, SHARDS, event.id),
            action=shard_key(event.action.value, SHARDS, event.id),
            actor_id=event.actor_id,
            body=event.model_dump_json(),
            expires_at=event.occurred_at + self._retention,
        )
        stored = conditional_write(lambda: record.save(condition=AuditEventRecord.id.does_not_exist()))
        # A duplicate too: its first delivery may have stored the event and stopped before these.
        for key in _lookup_keys(event.trace_id, event.gateway_request_id):
            actions: list[Action] = [
                AuditLookupRecord.event_ids.add({event.id}),
                AuditLookupRecord.expires_at.set(record.expires_at),
            ]
            AuditLookupRecord(id=key).update(actions=actions)
        return stored

    def all_by_actor(self, actor_id: str) -> list[AuditEvent]:
        """Every stored event of one actor, newest first: their partition of the actor index, a megabyte a request."""
        records = AuditEventRecord.by_actor.query(actor_id, scan_index_forward=False)
        return [AuditEvent.model_validate_json(record.body) for record in records]

    def list(self, query: AuditQuery) -> AuditPage:
        """Newest first. One actor's events are one partition, read alone (the action, if asked, filters them);
        everything or one action's events are 17 partitions (16 shards and the legacy key), one query each; one
        request's (by its trace or gateway id) are a key read and a batch read."""
        scope = cursor_scope(query)
        # Opened before anything is read: a bad cursor costs no request. A request's events are one page, so no
        # cursor is ever issued for them and any cursor given is refused.
        before = self._cursors.decode(query.cursor, scope, ("id",))["id"] if query.cursor else None
        if query.trace_id or query.gateway_request_id:
            return self._one_requests(query)
        index: Any
        action_filter = None
        if query.actor_id:
            index, partitions = AuditEventRecord.by_actor, [query.actor_id]
            if query.action:
                action = query.action.value
                action_filter = AuditEventRecord.action.startswith(f"{action}#") | (AuditEventRecord.action == action)
        elif query.action:
            index, partitions = AuditEventRecord.by_action, _partitions(query.action.value)
        else:
            index, partitions = AuditEventRecord.by_time, _partitions(STREAM)

        lowest = _lowest_id_at(query.since) if query.since else None
        wanted = query.limit + 1
        if before and lowest and before < lowest:
            return AuditPage(items=[], next_cursor=None)  # no cursor issued points below `since`; a leaked key could
        if before and lowest:
            # `between` includes its bounds: the cursor's own event comes back once, and is dropped.
            since: Any = AuditEventRecord.id.between(lowest, before)
            wanted += 1
        elif before:
            since = AuditEventRecord.id < before
        else:
            since = AuditEventRecord.id >= lowest if lowest else None
        records = query_in_order(
            index,
            partitions,
            lambda record: record.id,
            limit=wanted,
            descending=True,
            range_key_condition=since,
            filter_condition=action_filter,
        )
        records = [record for record in records if record.id != before][: query.limit + 1]
        next_cursor = None
        if len(records) > query.limit:
            records = records[: query.limit]
            next_cursor = self._cursors.encode(scope, {"id": records[-1].id})
        return AuditPage(
            items=[AuditEvent.model_validate_json(record.body) for record in records], next_cursor=next_cursor
        )

    def _one_requests(self, query: AuditQuery) -> AuditPage:
        """The events of the request a trace id or gateway id names (both: of the request both name), filtered by
        the query's other terms, in one page (a request produces a handful)."""
        event_ids: set[str] | None = None
        for key in _lookup_keys(query.trace_id, query.gateway_request_id):
            try:
                found = set(AuditLookupRecord.get(key).event_ids)
            except AuditLookupRecord.DoesNotExist:
                found = set()
            event_ids = found if event_ids is None else event_ids & found
        records = AuditEventRecord.batch_get(sorted(event_ids or ()))
        events = [AuditEvent.model_validate_json(record.body) for record in records]
        lowest = _lowest_id_at(query.since) if query.since else ""
        wanted = [
            event
            for event in sorted(events, key=lambda event: event.id, reverse=True)
            if (not query.actor_id or event.actor_id == query.actor_id)
            and (not query.action or event.action == query.action)
            and event.id >= lowest
        ]
        return AuditPage(items=wanted[: query.limit], next_cursor=None)

    def move_legacy(self) -> Moved:
        """Each event under the bare `audit` key moves to its time shard and action shard, in one update, unless it
        moved meanwhile."""
        result = Moved()
        for legacy in AuditEventRecord.by_time.query(STREAM):
            actions: list[Action] = [
                AuditEventRecord.stream.set(shard_key(STREAM, SHARDS, legacy.id)),
                AuditEventRecord.action.set(shard_key(legacy.action, SHARDS, legacy.id)),
            ]
            unmoved = AuditEventRecord.stream == STREAM
            if conditional_write(partial(AuditEventRecord(id=legacy.id).update, actions=actions, condition=unmoved)):
                result.moved += 1
            else:
                result.skipped += 1
        return result
