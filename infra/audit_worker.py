"""`make dev`'s stand-in for the two audit functions, in a process of their own as in AWS: the SQS event
source feeding AuditQueue's batches to the audit handler, and the schedule that runs the outbox relay.

AUDIT_RELAY_INTERVAL_SECONDS (default 10) sets how often the relay runs; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any, cast

import boto3

from infra.events import LambdaContext, scheduled_event
from infra.sqs_poller import QueuePoller
from watchlist_core.settings import get_settings


def main() -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    settings = get_settings()
    if not settings.audit_queue_url:
        raise SystemExit("AUDIT_QUEUE_URL is not set")
    from watchlist_audit.handler import handler as audit_handler
    from watchlist_audit.relay import handler as relay_handler

    sqs = boto3.client("sqs", region_name=settings.aws_region, endpoint_url=settings.sqs_endpoint_url)
    poller = QueuePoller(sqs, settings.audit_queue_url, audit_handler)
    interval = float(os.environ.get("AUDIT_RELAY_INTERVAL_SECONDS", "10"))
    next_relay = time.monotonic()
    print(f"audit worker: polling {settings.audit_queue_url}; relay every {interval:g}s", flush=True)
    # One thread, as each function is one invocation at a time: the two never share log state mid-run.
    while not stop.is_set():
        try:
            if time.monotonic() >= next_relay:
                next_relay = time.monotonic() + interval
                relay_handler(scheduled_event("outbox-relay"), cast(Any, LambdaContext("outbox-relay")))
            poller.poll_once(wait_seconds=1)
        except Exception as error:  # noqa: BLE001 (a dependency away for a moment: go on, as Lambda would)
            print(f"audit worker: {type(error).__name__}: {error}; retrying", flush=True)
            stop.wait(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
