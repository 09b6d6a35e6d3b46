"""What Lambda's SQS event source mapping does, locally: long-poll a queue, invoke a handler with the batch,
and delete only the messages the handler did not report as failed (ReportBatchItemFailures). A failed
message becomes visible again after the visibility timeout; SQS itself moves it to the dead-letter queue
once its receive count passes the redrive policy's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.events import LambdaContext, sqs_event
from watchlist_core.observability import logger

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class PollResult:
    received: int
    deleted: int


class QueuePoller:
    def __init__(
        self, sqs: Any, queue_url: str, handler: Handler, *, batch_size: int = 10, function_name: str = "audit"
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._function_name = function_name
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def poll_once(self, wait_seconds: int = 0) -> PollResult:
        """One ReceiveMessage and, if it returned messages, one invocation."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return PollResult(0, 0)
        try:
            response = self._handler(sqs_event(messages, self._queue_arn), LambdaContext(self._function_name))
        except Exception:  # noqa: BLE001 (as in Lambda: a failed invocation deletes nothing; all are retried)
            logger.exception(f"{self._function_name} handler invocation failed; the whole batch will be redelivered")
            return PollResult(len(messages), 0)
        failed = {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]} for i, message in enumerate(done)],
            )
        return PollResult(len(messages), len(done))

    def drain(self) -> PollResult:
        """Poll until a receive comes back empty (messages in flight, not yet visible again, stay)."""
        received = deleted = 0
        while (result := self.poll_once()).received:
            received += result.received
            deleted += result.deleted
        return PollResult(received, deleted)
