"""The audit Lambda: SQS batches of audit events, each stored once; failures reported per message."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, ExceptionInfo, FailureResponse
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from watchlist_core import tracing
from watchlist_core.audit.message import AuditEvent
from watchlist_core.observability import logger
from watchlist_core.wiring import get_audit_worker


class AuditMessage(SqsRecordModel):
    """An SQS record whose body must be an audit event of a known schema version; anything else is poison."""

    body: Json[AuditEvent]


class AuditBatchProcessor(AsyncBatchProcessor):
    """Powertools' SQS batch processor, all of a batch's messages at once, saying why each failed message failed."""

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        message_id = record.get("messageId") if isinstance(record, dict) else getattr(record, "messageId", None)
        event = getattr(record, "body", None)
        logger.warning(
            "audit message failed; SQS will redeliver it, then dead-letter it",
            extra={
                "message_id": message_id,
                # Messages are stored concurrently, so the request's ids are logged here, not set for the invocation.
                "request_id": getattr(event, "request_id", None),
                "gateway_request_id": getattr(event, "gateway_request_id", None),
                "trace_id": getattr(event, "trace_id", None),
                "error_class": type(exception[1]).__name__,
                "error": str(exception[1])[:300],
            },
        )
        return super().failure_handler(record, exception)


# A message that fails (poison, or storage down) is reported alone; SQS redelivers it, and after the queue's
# receive limit moves it to the dead-letter queue. A batch that fails whole is reported, not raised: the same
# retry, without a failed invocation.
processor = AuditBatchProcessor(event_type=EventType.SQS, model=AuditMessage, raise_on_entire_batch_failure=False)
# Each message's store is a conditional write that waits on DynamoDB: a batch's (BatchSize in template.yaml)
# wait side by side.
_writers = ThreadPoolExecutor(max_workers=10, thread_name_prefix="audit-store")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    ingest = get_audit_worker().ingest

    async def store(record: AuditMessage) -> str:
        # Linked, as X-Ray links a consumer to its producer: the request that sent the event is another trace.
        with tracing.span("audit store", linked_to=record.attributes.AWSTraceHeader, event_id=record.body.id):
            # The writer thread runs in this task's context, so that its DynamoDB call is this span's child.
            in_this_context = functools.partial(contextvars.copy_context().run, ingest.store, record.body)
            return await asyncio.get_running_loop().run_in_executor(_writers, in_this_context)

    with tracing.invocation("watchlist-audit", consumer=True, faas_invocation_id=context.aws_request_id):
        with processor(records=event["Records"], handler=store, lambda_context=context):
            outcomes = processor.async_process()
        ingest.settle(result for status, result, _ in outcomes if status == "success")
    return processor.response()
