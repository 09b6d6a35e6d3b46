"""The audit queue (SQS through boto3): short timeouts and no retries, because a failed send has a
durable fallback (the outbox) and must not hold up the request that produced the event. After a failure,
sends are skipped for a few seconds, so an SQS outage costs one timeout per pause, not one per request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from watchlist_core import tracing
from watchlist_core.audit.message import AuditEvent
from watchlist_core.observability import logger
from watchlist_core.settings import Settings

if TYPE_CHECKING:
    from watchlist_core.mail.jobs import MailJob

SEND_BATCH_LIMIT = 10  # SendMessageBatch takes ten entries at most


class SqsQueue:
    """One queue's client. `botocore_session`, when given, supplies a session to build the client on: one that
    already built a DynamoDB client has its endpoint and credential data loaded, which makes the SQS client ~5 ms,
    not ~40."""

    def __init__(
        self, settings: Settings, url: str | None, name: str, botocore_session: Callable[[], Any] | None = None
    ) -> None:
        self._settings = settings
        self._url = url
        self._name = name
        self._botocore_session = botocore_session
        self._client: Any = None
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def send_body(self, body: str) -> bool:
        """One SendMessage; False when SQS is unreachable, slow or refuses, now or a moment ago."""
        if not self._url or time.monotonic() < self._paused_until:
            return False
        try:
            self._sqs().send_message(QueueUrl=self._url, MessageBody=body, **_trace_context())
        except Exception as error:  # noqa: BLE001 (any failure means: not sent, use the fallback)
            self._paused_until = time.monotonic() + self._settings.sqs_pause_after_failure_seconds
            logger.warning(f"{self._name} unavailable", extra={"error_class": type(error).__name__})
            return False
        return True

    def ping(self) -> Any:
        """For the readiness check: raises unless the queue answers."""
        return self._sqs().get_queue_attributes(QueueUrl=self._url, AttributeNames=["ApproximateNumberOfMessages"])

    def _sqs(self) -> Any:
        # Built on first use: boto3 and the SQS client cost milliseconds a read-only invocation need not pay.
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                timeout = self._settings.sqs_timeout_seconds
                session = boto3.session.Session(
                    botocore_session=self._botocore_session() if self._botocore_session else None
                )
                self._client = session.client(
                    "sqs",
                    region_name=self._settings.aws_region,
                    endpoint_url=self._settings.sqs_endpoint_url,
                    config=Config(
                        connect_timeout=timeout,
                        read_timeout=timeout,
                        retries={"mode": "standard", "total_max_attempts": 1},
                    ),
                )
                tracing.watch_aws_calls(self._client)
            return self._client


class AuditQueue(SqsQueue):
    """The audit queue: short timeouts and no retries, because a failed send has a durable fallback (the outbox)
    and must not hold up the request that produced the event."""

    def __init__(self, settings: Settings, botocore_session: Callable[[], Any] | None = None) -> None:
        super().__init__(settings, settings.audit_queue_url, "audit queue", botocore_session)

    def send(self, event: AuditEvent) -> bool:
        return self.send_body(event.model_dump_json())

    def send_batch(self, events: Sequence[AuditEvent]) -> set[str]:
        """SendMessageBatch of up to ten events; the ids of those SQS accepted."""
        if not self._url or not events:
            return set()
        trace_context = _trace_context()
        entries = [
            {"Id": event.id, "MessageBody": event.model_dump_json(), **trace_context}
            for event in events[:SEND_BATCH_LIMIT]
        ]
        try:
            answer = self._sqs().send_message_batch(QueueUrl=self._url, Entries=entries)
        except Exception as error:  # noqa: BLE001
            logger.warning("audit queue unavailable", extra={"error_class": type(error).__name__})
            return set()
        for failure in answer.get("Failed", []):
            logger.warning("audit queue refused an event", extra={"event_id": failure["Id"], "code": failure["Code"]})
        return {entry["Id"] for entry in answer.get("Successful", [])}


class MailQueue(SqsQueue):
    """The account mail queue: the API sends requests for mail, the mail function receives them."""

    def __init__(self, settings: Settings, botocore_session: Callable[[], Any] | None = None) -> None:
        super().__init__(settings, settings.mail_queue_url, "mail queue", botocore_session)

    def send(self, job: MailJob) -> bool:
        return self.send_body(job.model_dump_json())

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """A received message comes back after `seconds`, not the queue's visibility timeout: a back-off."""
        self._sqs().change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


def _trace_context() -> dict[str, Any]:
    """The sender's trace, as SQS carries it (the AWSTraceHeader system attribute) to the consumer's records."""
    header = tracing.trace_header()
    if header is None:
        return {}
    return {"MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}}
