"""Data access for the audit outbox: events waiting until the audit function confirms it stored them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from watchlist_core.audit.message import AuditEvent
from watchlist_core.domain import utc_now
from watchlist_core.storage.tables import OutboxRecord
from watchlist_core.storage.transactions import NamedWrites, conditional_write

# SQS keeps a message at most 14 days; an outbox row has no reason to outlive that.
ROW_LIFETIME = timedelta(days=14)
# The name of the event's write in a transaction (its condition: an event id is used once).
AUDIT_EVENT = "audit event"


@dataclass(frozen=True)
class PendingEvent:
    event: AuditEvent
    attempts: int


class OutboxStore:
    def __init__(self, grace_seconds: int) -> None:
        self._grace_seconds = grace_seconds

    def stage(self, writes: NamedWrites, event: AuditEvent) -> None:
        """Add the event to a transaction, so it is stored if and only if the change it describes is."""
        row = self._record(event)
        writes.update(
            AUDIT_EVENT,
            OutboxRecord(event_id=event.id),
            actions=[
                OutboxRecord.body.set(row.body),
                OutboxRecord.due_at.set(row.due_at),
                OutboxRecord.attempts.set(row.attempts),
                OutboxRecord.expires_at.set(row.expires_at),
            ],
            condition=OutboxRecord.event_id.does_not_exist(),
        )

    def put(self, event: AuditEvent) -> None:
        self._record(event).save()

    def due(self, max_attempts: int, limit: int) -> list[PendingEvent]:
        """Up to `limit` rows whose grace period is over and that have attempts left.

        A Scan: the table holds only events not yet stored, normally a handful, so reading it whole is cheap.
        """
        now = int(utc_now().timestamp())
        rows = OutboxRecord.scan(
            filter_condition=(OutboxRecord.due_at <= now) & (OutboxRecord.attempts < max_attempts), limit=limit
        )
        return [PendingEvent(AuditEvent.model_validate_json(row.body), int(row.attempts)) for row in rows]

    def sent_again(self, entry: PendingEvent) -> None:
        """Count a relay attempt and back off exponentially before the next one."""
        delay = self._grace_seconds * 2**entry.attempts
        # A refused condition: the audit function stored the event and removed its row meanwhile; nothing to count.
        conditional_write(
            lambda: OutboxRecord(event_id=entry.event.id).update(
                actions=[
                    OutboxRecord.attempts.set(entry.attempts + 1),
                    OutboxRecord.due_at.set(int(utc_now().timestamp()) + delay),
                ],
                condition=OutboxRecord.event_id.exists(),
            )
        )

    def forget(self, event_ids: Iterable[str]) -> None:
        """Remove the rows of stored events (rows that are not there cost nothing but the request). An id named
        twice is removed once: BatchWriteItem refuses a request that names a key twice."""
        ids = iter(dict.fromkeys(event_ids))
        while chunk := list(islice(ids, 25)):  # BatchWriteItem takes 25 requests at most
            with OutboxRecord.batch_write() as batch:
                for event_id in chunk:
                    batch.delete(OutboxRecord(event_id=event_id))

    def _record(self, event: AuditEvent) -> OutboxRecord:
        now = utc_now()
        return OutboxRecord(
            event_id=event.id,
            body=event.model_dump_json(),
            due_at=int(now.timestamp()) + self._grace_seconds,
            attempts=0,
            expires_at=now + ROW_LIFETIME,
        )
