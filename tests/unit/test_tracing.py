"""The tracing module alone: off it is inert; `log` (make dev) writes an invocation's spans as one line; the audit
queue's sends, batches included (moto drops per-entry system attributes), carry the sender's trace."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from watchlist_core import tracing
from watchlist_core.audit.events import new_event
from watchlist_core.audit.message import AuditAction
from watchlist_core.observability import logger
from watchlist_core.queues import AuditQueue
from watchlist_core.settings import Settings

XRAY_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    return buffer


@pytest.fixture
def logging_traces() -> Iterator[None]:
    tracing.configure("log")
    yield
    tracing.reset()


def test_off_nothing_is_traced_and_no_id_is_made_up() -> None:
    tracing.configure("off")
    with tracing.invocation("watchlist-api"), tracing.span("redis admit_user"):
        tracing.annotate(route="add_item")
        assert tracing.trace_header() is None
        assert tracing.current_trace_id() is None


def test_log_mode_writes_an_invocations_spans_as_one_line(logging_traces: None, log_lines: io.StringIO) -> None:
    with tracing.invocation("watchlist-api"):
        trace_id = tracing.current_trace_id()
        with tracing.span("redis admit_user"):
            pass
        with pytest.raises(ValueError, match="a secret"), tracing.span("DynamoDB GetItem"):
            raise ValueError("a secret the input held")
    (line,) = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert line["message"] == "trace"
    assert line["trace_id"] == trace_id
    assert XRAY_TRACE_ID.match(trace_id or "")
    assert [re.sub(r"[\d.]+", "N", child) for child in line["children"]] == [
        "redis admit_user +N Nms",
        "DynamoDB GetItem +N Nms ERROR",
    ]
    assert "a secret" not in log_lines.getvalue()


def test_the_trace_header_names_the_current_span_in_xrays_form(logging_traces: None) -> None:
    with tracing.invocation("watchlist-api"):
        header = tracing.trace_header()
        with tracing.span("redis admit_user"):
            inner = tracing.trace_header()
    assert header is not None
    assert inner is not None
    pattern = r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1"
    outer_match, inner_match = re.fullmatch(pattern, header), re.fullmatch(pattern, inner)
    assert outer_match
    assert inner_match
    assert outer_match[1] == inner_match[1]  # one trace
    assert outer_match[2] != inner_match[2]  # each span its own id


class CapturingSqs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_message(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("send_message", params))
        return {"MessageId": "m"}

    def send_message_batch(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("send_message_batch", params))
        return {"Successful": [{"Id": entry["Id"]} for entry in params["Entries"]]}


def test_every_message_the_queue_sends_carries_the_senders_trace(logging_traces: None) -> None:
    queue = AuditQueue(Settings(audit_queue_url="https://sqs.us-east-1.amazonaws.com/1/AuditQueue"))
    sqs = CapturingSqs()
    queue._client = sqs
    events = [new_event(AuditAction.USER_REGISTERED, actor_id=f"u{number}") for number in range(2)]
    with tracing.invocation("watchlist-outbox-relay"):
        header = tracing.trace_header()
        assert queue.send(events[0])
        assert queue.send_batch(events) == {event.id for event in events}
    (_, single), (_, batch) = sqs.calls
    carried = [single["MessageSystemAttributes"], *(entry["MessageSystemAttributes"] for entry in batch["Entries"])]
    assert carried == [{"AWSTraceHeader": {"DataType": "String", "StringValue": header}}] * 3


def test_untraced_sends_carry_no_trace_attribute() -> None:
    tracing.configure("off")
    queue = AuditQueue(Settings(audit_queue_url="https://sqs.us-east-1.amazonaws.com/1/AuditQueue"))
    sqs = CapturingSqs()
    queue._client = sqs
    assert queue.send(new_event(AuditAction.USER_REGISTERED, actor_id="u1"))
    assert "MessageSystemAttributes" not in sqs.calls[0][1]
