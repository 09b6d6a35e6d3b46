"""The audit trail's domain logic: publishing events without losing them, storing them once, relaying leftovers.

Delivery is at least once. An event about a change is written to the outbox in the change's own transaction,
then sent to the queue; one about anything else (a login, a logout) is sent, and written to the outbox only if
sending fails. The audit function stores each event once (by id) and removes its outbox row; the relay sends
again what stayed in the outbox past its grace period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watchlist_core.audit.message import AuditEvent
from watchlist_core.observability import count, logger
from watchlist_core.queues import SEND_BATCH_LIMIT
from watchlist_core.services.ports import AuditPublisher
from watchlist_core.storage.audit_events import AuditEventStore
from watchlist_core.storage.outbox import OutboxStore


class AuditTrail:
    """The API side: hands events to the queue; never fails the request that produced them."""

    def __init__(self, queue: AuditPublisher, outbox: OutboxStore) -> None:
        self._queue = queue
        self._outbox = outbox

    def publish_committed(self, event: AuditEvent) -> None:
        """Send an event whose outbox row was committed with its change; if sending fails, the relay will."""
        if not self._queue.send(event):
            count("AuditSendDeferred")

    def publish(self, event: AuditEvent) -> None:
        """Send an event that no transaction wrote; keep it in the outbox if sending fails."""
        if self._queue.send(event):
            return
        count("AuditSendDeferred")
        try:
            self._outbox.put(event)
        except Exception:  # noqa: BLE001 (queue and table both failing: the log is the last durable place)
            logger.exception(
                "audit event reached neither queue nor outbox", extra={"audit_event": event.model_dump(mode="json")}
            )
            count("AuditEventUnsaved")


class AuditIngest:
    """The audit function's side: store each event once, then let go of its outbox row."""

    def __init__(self, events: AuditEventStore, outbox: OutboxStore) -> None:
        self._events = events
        self._outbox = outbox

    def store(self, event: AuditEvent) -> str:
        if not self._events.add_once(event):
            logger.info("duplicate audit event ignored", extra={"event_id": event.id})
            count("AuditDuplicate")
        return event.id

    def settle(self, event_ids: Iterable[str]) -> None:
        """After a batch: the stored events need no relay. A failure here only costs a later duplicate."""
        try:
            self._outbox.forget(event_ids)
        except Exception:  # noqa: BLE001 (the events are stored; the relay will resend, and we will skip them)
            logger.exception("outbox rows of stored audit events not removed")


@dataclass(frozen=True)
class AuditWorker:
    """The audit function's and the outbox relay's services (wiring.get_audit_worker): here, not in wiring.py, so
    that the API's cold start, which imports wiring.py and never needs them, does not build the dataclass."""

    ingest: AuditIngest
    relay: OutboxRelay


@dataclass(frozen=True)
class RelayReport:
    due: int
    sent: int
    gave_up: int


class OutboxRelay:
    """Sends outbox rows whose grace period is over, ten per request, backing off per row."""

    def __init__(self, outbox: OutboxStore, queue: AuditPublisher, max_attempts: int, batch_limit: int = 500) -> None:
        self._outbox = outbox
        self._queue = queue
        self._max_attempts = max_attempts
        self._batch_limit = batch_limit

    def run(self) -> RelayReport:
        due = self._outbox.due(self._max_attempts, self._batch_limit)
        sent = gave_up = 0
        for start in range(0, len(due), SEND_BATCH_LIMIT):
            chunk = due[start : start + SEND_BATCH_LIMIT]
            accepted = self._queue.send_batch([entry.event for entry in chunk])
            if not accepted:
                break  # the queue is down: the rows stay due for the next run
            for entry in chunk:
                if entry.event.id not in accepted:
                    continue
                self._outbox.sent_again(entry)
                sent += 1
                if entry.attempts + 1 >= self._max_attempts:
                    gave_up += 1
                    logger.error("audit relay gives up on an event", extra={"event_id": entry.event.id})
        if gave_up:
            count("AuditRelayGaveUp", gave_up)
        return RelayReport(due=len(due), sent=sent, gave_up=gave_up)
