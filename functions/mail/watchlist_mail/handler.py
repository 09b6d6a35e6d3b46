"""The mail Lambda: SQS batches of mail requests, each sent through SES; failures reported per message.

A request SES could not take now (throttled, paused, unreachable) comes back later, each time later (a back-off of
a minute doubling to 15, so SES may be away for well over an hour), until the queue's receive limit moves it to the
dead-letter queue. A mail SES refuses for good (a rejected address) is dropped, counted and logged.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, ExceptionInfo, FailureResponse
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from watchlist_core import tracing
from watchlist_core.mail.jobs import MailJob
from watchlist_core.mail.ses import MailRefusedError
from watchlist_core.observability import count, logger
from watchlist_core.settings import get_settings
from watchlist_core.wiring import get_mail_queue, get_mail_worker

FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 900


class MailMessage(SqsRecordModel):
    """An SQS record whose body must be a mail request of a known schema version; anything else is poison."""

    body: Json[MailJob]


def retry_delay(receive_count: int) -> int:
    """Seconds until a failed request's next try: a minute, doubling per receive, at most 15 minutes."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** max(receive_count - 1, 0), LONGEST_RETRY_SECONDS))


class MailBatchProcessor(BatchProcessor):
    """Powertools' SQS batch processor; a failed message is counted, and comes back after its back-off."""

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        raw = _fields(record)
        receives = int(raw["attributes"]["ApproximateReceiveCount"])
        last = receives >= get_settings().mail_max_receives
        count("MailFailed", reason="retried" if not last else "dead_lettered")
        if last:
            count("MailDeadLettered")
        logger.warning(
            "mail not sent; " + ("the queue dead-letters it" if last else f"retried in {retry_delay(receives)} s"),
            extra={"message_id": raw["messageId"], "receives": receives, "error_class": type(exception[1]).__name__},
        )
        if not last:
            try:
                get_mail_queue().retry_later(raw["receiptHandle"], retry_delay(receives))
            except Exception as error:  # noqa: BLE001 (the queue's own visibility timeout retries it instead)
                logger.warning("mail back-off not set", extra={"error_class": type(error).__name__})
        return super().failure_handler(record, exception)


def _fields(record: Any) -> dict[str, Any]:
    """A failed record's fields as SQS sent them: a parsed MailMessage (its handler failed), or Powertools' SQSRecord
    (its body was no mail request)."""
    if hasattr(record, "raw_event"):
        return dict(record.raw_event)
    return dict(record.model_dump())


processor = MailBatchProcessor(event_type=EventType.SQS, model=MailMessage, raise_on_entire_batch_failure=False)


def send(record: MailMessage) -> None:
    job = record.body
    try:
        get_mail_worker().deliver(job)
    except MailRefusedError as refusal:
        # Sending it again cannot help: dropped, not retried (the metric's alarm, and the log, tell the operator).
        count("MailFailed", reason="refused")
        logger.error(
            "SES refused a mail for good", extra={"mail_kind": job.kind, "mail_id": job.id, "code": str(refusal)}
        )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with (
        tracing.invocation("watchlist-mail", consumer=True, faas_invocation_id=context.aws_request_id),
        processor(records=event["Records"], handler=send, lambda_context=context),
    ):
        processor.process()
    return processor.response()
