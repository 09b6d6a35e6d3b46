"""The outbox relay's back-off and give-up rules, and publishing that never fails a request."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from moto import mock_aws

from infra.aws.bootstrap import create_tables
from watchlist_core.audit.events import new_event
from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.services.audit_delivery import AuditTrail, OutboxRelay
from watchlist_core.settings import get_settings
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.tables import OutboxRecord, bind_tables


class FakeQueue:
    """Accepts (or refuses) everything, and remembers what it was given."""

    def __init__(self, accepting: bool = True) -> None:
        self.accepting = accepting
        self.sent: list[str] = []
        self.batch_sizes: list[int] = []

    def send(self, event: AuditEvent) -> bool:
        return bool(self.send_batch([event]))

    def send_batch(self, events: Sequence[AuditEvent]) -> set[str]:
        if not self.accepting:
            return set()
        self.batch_sizes.append(len(events))
        self.sent += [event.id for event in events]
        return {event.id for event in events}


@pytest.fixture
def outbox() -> Iterator[OutboxStore]:
    with mock_aws():
        create_tables(get_settings())
        bind_tables(get_settings())
        yield OutboxStore(grace_seconds=0)


def _events(count: int) -> list[AuditEvent]:
    return [new_event(AuditAction.LOGOUT, actor_id=f"user-{n}") for n in range(count)]


def test_the_relay_sends_due_rows_ten_per_request_and_backs_off(outbox: OutboxStore) -> None:
    events = _events(13)
    for event in events:
        outbox.put(event)
    queue = FakeQueue()

    report = OutboxRelay(outbox, queue, max_attempts=3).run()

    assert (report.due, report.sent, report.gave_up) == (13, 13, 0)
    assert sorted(queue.sent) == sorted(event.id for event in events)
    assert queue.batch_sizes == [10, 3]
    assert {int(row.attempts) for row in OutboxRecord.scan()} == {1}


def test_a_resent_row_waits_twice_as_long_each_time(outbox: OutboxStore) -> None:
    event = _events(1)[0]
    OutboxStore(grace_seconds=0).put(event)
    relay = OutboxRelay(OutboxStore(grace_seconds=60), FakeQueue(), max_attempts=5)
    assert relay.run().sent == 1
    row = OutboxRecord.get(event.id)
    assert int(row.attempts) == 1
    assert relay.run().due == 0  # now due 60 s later, then 120, 240...


def test_the_relay_gives_up_after_its_last_attempt(outbox: OutboxStore) -> None:
    outbox.put(_events(1)[0])
    relay = OutboxRelay(outbox, FakeQueue(), max_attempts=1)
    assert relay.run().gave_up == 1
    assert relay.run().due == 0  # left for its TTL, never sent again
    assert len(list(OutboxRecord.scan())) == 1


def test_with_the_queue_down_the_rows_stay_due(outbox: OutboxStore) -> None:
    for event in _events(3):
        outbox.put(event)
    relay = OutboxRelay(outbox, FakeQueue(accepting=False), max_attempts=3)
    assert (relay.run().sent, relay.run().due) == (0, 3)
    assert {int(row.attempts) for row in OutboxRecord.scan()} == {0}


def test_an_event_reaching_neither_queue_nor_outbox_is_logged_in_full_not_raised(
    outbox: OutboxStore, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenOutbox(OutboxStore):
        def put(self, event: AuditEvent) -> None:
            raise ConnectionError("DynamoDB is down too")

    event = _events(1)[0]
    AuditTrail(FakeQueue(accepting=False), BrokenOutbox(grace_seconds=0)).publish(event)

    [record] = [r for r in caplog.records if r.getMessage() == "audit event reached neither queue nor outbox"]
    assert record.audit_event["id"] == event.id  # type: ignore[attr-defined]
    assert '"AuditEventUnsaved"' in capsys.readouterr().out


def test_a_failed_send_of_a_committed_event_leaves_it_to_the_relay(outbox: OutboxStore) -> None:
    queue: Any = FakeQueue(accepting=False)
    event = _events(1)[0]
    outbox.put(event)  # as the change's transaction wrote it
    AuditTrail(queue, outbox).publish_committed(event)
    assert OutboxRelay(outbox, FakeQueue(), max_attempts=3).run().sent == 1


def test_forgetting_a_batch_that_names_an_event_twice_removes_its_row(outbox: OutboxStore) -> None:
    # An event sent by the API and again by the relay can arrive twice in one SQS batch; DynamoDB refuses a
    # BatchWriteItem that names one key twice, which left every row of such a batch behind.
    events = _events(2)
    for event in events:
        outbox.put(event)
    outbox.forget([events[0].id, events[1].id, events[0].id])
    assert list(OutboxRecord.scan()) == []
