"""The outbox relay Lambda, run on a schedule: sends audit events that did not reach the queue in time."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from watchlist_core import tracing
from watchlist_core.observability import logger
from watchlist_core.wiring import get_audit_worker


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    with tracing.invocation("watchlist-outbox-relay", faas_invocation_id=context.aws_request_id):
        report = asdict(get_audit_worker().relay.run())
    logger.info("outbox relay run", extra=report)
    return report
