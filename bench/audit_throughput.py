"""The audit function: events stored per second in batches of ten, and the DynamoDB requests a batch costs.

Each batch is ten real messages received from the moto server's queue; only the handler invocation is
timed. Three cases: new events with outbox rows (written by the API's transactions), the same batch
delivered again (all duplicates), and new events whose outbox rows are already gone.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext, redirect_stdout
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from bench._common import dynamodb_latency, local_stack, tally_dynamodb
from infra.local.events import LambdaContext, sqs_event
from watchlist_core.audit.events import item_target, new_event
from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.observability import logger
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.wiring import get_audit_worker

BATCHES = 40
BATCH_SIZE = 10


def main() -> None:
    logger.setLevel("WARNING")  # one INFO line per duplicate would bury the figures
    with local_stack():
        from watchlist_audit.handler import handler

        sqs: Any = boto3.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT_URL"])
        queue_url = os.environ["AUDIT_QUEUE_URL"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        outbox = OutboxStore(grace_seconds=120)

        def received_batch(events: list[AuditEvent]) -> dict[str, Any]:
            sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": event.model_dump_json()} for i, event in enumerate(events)],
            )
            messages: list[dict[str, Any]] = []
            while len(messages) < len(events):
                answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH_SIZE, AttributeNames=["All"])
                messages += answer.get("Messages", [])
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            return sqs_event(messages, queue_arn)

        def new_events(with_outbox_rows: bool) -> list[AuditEvent]:
            events = [
                new_event(AuditAction.ITEM_CREATED, actor_id="bench-user", target=item_target("bench-user", str(n)))
                for n in range(BATCH_SIZE)
            ]
            for event in events:
                if with_outbox_rows:
                    outbox.put(event)
            return events

        cases: dict[str, Callable[[], dict[str, Any]]] = {}
        replay: list[dict[str, Any]] = []

        def fresh_with_outbox() -> dict[str, Any]:
            event = received_batch(new_events(with_outbox_rows=True))
            replay.append(event)
            return event

        cases["new events, outbox rows present"] = fresh_with_outbox
        cases["the same batches again (duplicates)"] = lambda: replay.pop(0)
        cases["new events, no outbox rows"] = lambda: received_batch(new_events(with_outbox_rows=False))

        with redirect_stdout(io.StringIO()):  # warm up
            handler(received_batch(new_events(with_outbox_rows=False)), LambdaContext("audit"))
        print(f"{'case':40} {'events/s (median)':>18} {'ms/batch':>9}  DynamoDB requests per batch of {BATCH_SIZE}")
        for name, next_batch in cases.items():
            seconds: list[float] = []
            handler_requests: Counter[str] = Counter()
            for _ in range(BATCHES):
                event = next_batch()  # its own requests (queue, outbox rows) are not counted
                with tally_dynamodb() as tally, redirect_stdout(io.StringIO()):  # its log and metric lines
                    started = time.perf_counter()
                    response = handler(event, LambdaContext("audit"))
                    seconds.append(time.perf_counter() - started)
                assert response == {"batchItemFailures": []}, response
                handler_requests += tally.operations
            per_batch = {op: count / BATCHES for op, count in sorted(handler_requests.items())}
            median = statistics.median(seconds)
            requests = ", ".join(f"{op} {count:g}" for op, count in per_batch.items())
            print(f"{name:40} {BATCH_SIZE / median:18.0f} {median * 1000:9.1f}  {requests}")

        one_after_another(handler, lambda: received_batch(new_events(with_outbox_rows=True)))


def one_after_another(handler: Any, next_batch: Callable[[], dict[str, Any]]) -> None:
    """The handler against the same batch stored one message after another (Powertools' BatchProcessor, as before
    issue 20), interleaved batch by batch, on moto as it is and with in-region latencies."""
    from watchlist_audit.handler import AuditMessage

    processor = BatchProcessor(event_type=EventType.SQS, model=AuditMessage, raise_on_entire_batch_failure=False)
    ingest = get_audit_worker().ingest

    def sequential(event: dict[str, Any], context: Any) -> Any:
        with processor(records=event["Records"], handler=lambda record: ingest.store(record.body)):
            outcomes = processor.process()
        ingest.settle(result for status, result, _ in outcomes if status == "success")
        return processor.response()

    print(f"\nnew events, outbox rows present; ms per batch of {BATCH_SIZE} (median of {BATCHES // 2}), interleaved:")
    print(f"{'DynamoDB latency':34} {'side by side':>13} {'one after another':>18} {'ratio':>6}")
    for name, latency in (("moto's own", nullcontext), ("+ in-region (stated)", dynamodb_latency)):
        seconds: dict[str, list[float]] = {"side by side": [], "one after another": []}
        for _ in range(BATCHES // 2):
            for case, run in (("side by side", handler), ("one after another", sequential)):
                event = next_batch()
                with latency(), redirect_stdout(io.StringIO()):
                    started = time.perf_counter()
                    response = run(event, LambdaContext("audit"))
                    seconds[case].append(time.perf_counter() - started)
                assert response == {"batchItemFailures": []}, response
        concurrent, sequential_median = (statistics.median(seconds[case]) * 1000 for case in seconds)
        print(f"{name:34} {concurrent:13.1f} {sequential_median:18.1f} {sequential_median / concurrent:6.2f}")


if __name__ == "__main__":
    main()
