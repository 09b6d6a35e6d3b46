"""`make dev`'s stand-in for the queue-driven functions, in a process of their own as in AWS: the SQS event sources
feeding AuditQueue's batches to the audit handler and MailQueue's to the mail handler, and the schedule that runs
the outbox relay.

AUDIT_RELAY_INTERVAL_SECONDS (default 10) sets how often the relay runs; LAMBDA_ENDPOINT_URL, a local Lambda
endpoint to invoke the functions at instead of in this process. Stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

import boto3
from botocore.config import Config

from infra.local.events import LambdaContext, scheduled_event
from infra.local.sqs_poller import Handler, QueuePoller
from watchlist_core.settings import get_settings


def _handlers(region: str) -> tuple[Handler, Handler, Handler]:
    """The audit, relay and mail functions' handlers: in this process, or, with LAMBDA_ENDPOINT_URL set (`make
    sam-local`: `sam local start-lambda`), invoked there, in their Lambda containers."""
    endpoint = os.environ.get("LAMBDA_ENDPOINT_URL")
    if not endpoint:
        from watchlist_audit.handler import handler as audit_handler
        from watchlist_audit.relay import handler as relay_handler
        from watchlist_mail.handler import handler as mail_handler

        return audit_handler, relay_handler, mail_handler
    # A cold container takes many seconds to answer; retries would run a batch twice.
    config = Config(read_timeout=120, connect_timeout=5, retries={"total_max_attempts": 1})
    client = boto3.client("lambda", region_name=region, endpoint_url=endpoint, config=config)

    def invoker(function_name: str) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            response = client.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                raise RuntimeError(f"{function_name} failed: {payload}")
            return payload

        return invoke

    return invoker("AuditFunction"), invoker("OutboxRelayFunction"), invoker("MailFunction")


def main() -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    settings = get_settings()
    if not settings.audit_queue_url:
        raise SystemExit("AUDIT_QUEUE_URL is not set")
    audit_handler, relay_handler, mail_handler = _handlers(settings.aws_region)
    sqs = boto3.client("sqs", region_name=settings.aws_region, endpoint_url=settings.sqs_endpoint_url)
    poller = QueuePoller(sqs, settings.audit_queue_url, audit_handler)
    mail_poller = (
        QueuePoller(sqs, settings.mail_queue_url, mail_handler, function_name="mail")
        if settings.mail_queue_url
        else None
    )
    interval = float(os.environ.get("AUDIT_RELAY_INTERVAL_SECONDS", "10"))
    next_relay = time.monotonic()
    print(f"audit worker: polling {settings.audit_queue_url}; relay every {interval:g}s", flush=True)
    # One thread, as each function is one invocation at a time: the two never share log state mid-run.
    while not stop.is_set():
        try:
            if time.monotonic() >= next_relay:
                next_relay = time.monotonic() + interval
                relay_handler(scheduled_event("outbox-relay"), LambdaContext("outbox-relay"))
            poller.poll_once(wait_seconds=1)
            if mail_poller:
                mail_poller.poll_once()
        except Exception as error:  # noqa: BLE001 (a dependency away for a moment: go on, as Lambda would)
            print(f"audit worker: {type(error).__name__}: {error}; retrying", flush=True)
            stop.wait(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
