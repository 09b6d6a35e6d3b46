"""Data access for stored audit events: written once per event id, read newest first through three indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from ulid import ULID

from watchlist_core.audit.message import AuditEvent
from watchlist_core.audit.queries import AuditPage, AuditQuery
from watchlist_core.storage.pagination import decode_cursor, dynamodb_key, encode_cursor
from watchlist_core.storage.tables import AuditEventRecord
from watchlist_core.storage.transactions import conditional_write

# The constant partition of the `by_time` index. Its write rate is bounded by the audit function's
# concurrency, which SQS buffers, so one partition holds (about 1,000 writes a second per partition).
STREAM = "audit"


def _lowest_id_at(moment: datetime) -> str:
    """The smallest ULID of that millisecond: every event at or after `moment` sorts at or above it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # RFC 3339 without an offset: read as UTC, like every stored time
    # ULIDs start at the Unix epoch and end in 10889: a moment outside means everything, or nothing yet.
    milliseconds = min(max(int(moment.timestamp() * 1000), 0), 2**48 - 1)
    return str(ULID.from_bytes(milliseconds.to_bytes(6, "big") + bytes(10)))


class AuditEventStore:
    def __init__(self, retention_days: int) -> None:
        self._retention = timedelta(days=retention_days)

    def add_once(self, event: AuditEvent) -> bool:
        """Store the event unless one with its id is stored already; False for such a duplicate."""
        record = AuditEventRecord(
            id=event.id,
            stream=STREAM,
            action=event.action.value,
            actor_id=event.actor_id,
            body=event.model_dump_json(),
            expires_at=event.occurred_at + self._retention,
        )
        return conditional_write(lambda: record.save(condition=AuditEventRecord.id.does_not_exist()))

    def list(self, query: AuditQuery) -> AuditPage:
        index: Any
        if query.actor_id:
            index, partition, partition_field = AuditEventRecord.by_actor, query.actor_id, "actor_id"
        elif query.action:
            index, partition, partition_field = AuditEventRecord.by_action, query.action.value, "action"
        else:
            index, partition, partition_field = AuditEventRecord.by_time, STREAM, "stream"
        # The action is a filter only when the index is an actor's.
        action_filter = AuditEventRecord.action == query.action.value if query.actor_id and query.action else None
        since = AuditEventRecord.id >= _lowest_id_at(query.since) if query.since else None

        query_id = f"audit|{query.actor_id or ''}|{query.action or ''}|{query.since.isoformat() if query.since else ''}"
        key_fields = ("id", partition_field)
        start: dict[str, Any] | None = None
        if query.cursor:
            start = dynamodb_key(decode_cursor(query.cursor, query_id, key_fields) | {partition_field: partition})
        results = index.query(
            partition,
            range_key_condition=since,
            filter_condition=action_filter,
            scan_index_forward=False,
            last_evaluated_key=start,
            limit=query.limit + 1,
            page_size=(query.limit + 1) * (4 if action_filter is not None else 1),
        )
        records = list(islice(results, query.limit + 1))
        next_cursor = None
        if len(records) > query.limit:
            records = records[: query.limit]
            next_cursor = encode_cursor(query_id, {"id": records[-1].id, partition_field: partition})
        return AuditPage(
            items=[AuditEvent.model_validate_json(record.body) for record in records], next_cursor=next_cursor
        )
