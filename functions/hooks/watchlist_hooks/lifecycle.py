"""What both CodeDeploy hooks share: the logger, the deadline, the clients, and the one report to CodeDeploy.

CodeDeploy invokes a hook asynchronously and waits (up to an hour) for its `PutLifecycleEventHookExecutionStatus`:
the hook must send it exactly once, Succeeded or Failed, and before Lambda's timeout, or the deployment waits the
hour out. So the work runs in a thread the handler waits for until the deadline (the remaining time less a margin);
whatever happens (a failed check, an exception, the deadline) the handler reports, and logs rather than re-raises:
a raised error would make Lambda invoke the hook again (asynchronous retries), which would report a second time.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

logger = Logger(service="watchlist-hooks")

MARGIN_SECONDS = 3.0  # kept back from Lambda's remaining time for the report to CodeDeploy


class CheckFailed(Exception):
    """A check found the deployment wrong; the message says which and why (no secrets)."""


@functools.cache
def codedeploy_client() -> Any:
    return boto3.client("codedeploy", config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 3}))


@functools.cache
def lambda_client() -> Any:
    # One attempt per call: a retried call would outlive the hook's deadline; the hook's own checks say what failed.
    return boto3.client("lambda", config=Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1}))


def deadline_of(context: Any) -> float:
    """`time.monotonic()` seconds by which the hook's work must be done: Lambda's remaining time less the margin."""
    remaining: float = context.get_remaining_time_in_millis() / 1000
    return time.monotonic() + remaining - MARGIN_SECONDS


def within(deadline: float, work: Callable[[], None]) -> None:
    """Runs `work` in a daemon thread, waiting for it until `deadline`; raises what it raised, or `CheckFailed` when
    the deadline passed first (the thread is left behind: Lambda freezes it with the instance)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 (handed to the waiting thread)
            errors.append(error)

    thread = threading.Thread(target=run, name="hook-work", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        raise CheckFailed("out of time: the checks did not finish before the hook's deadline")
    if errors:
        raise errors[0]


def run_hook(name: str, event: dict[str, Any], context: Any, work: Callable[[float], None]) -> dict[str, str]:
    """`work(deadline)` for the lifecycle event in `event`, then its one report to CodeDeploy."""
    deployment_id = event["DeploymentId"]
    execution_id = event["LifecycleEventHookExecutionId"]
    logger.append_keys(hook=name, deployment_id=deployment_id)
    status: Literal["Succeeded", "Failed"] = "Failed"
    started = time.monotonic()
    deadline = deadline_of(context)
    try:
        within(deadline, lambda: work(deadline))
        status = "Succeeded"
    except CheckFailed as failure:
        logger.error("hook check failed", extra={"reason": str(failure)})
    except Exception as error:  # reported as Failed, logged with its traceback
        logger.exception("hook failed", extra={"error_class": type(error).__name__})
    finally:
        codedeploy_client().put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
        )
        logger.info(
            "reported to CodeDeploy",
            extra={"status": status, "duration_ms": round((time.monotonic() - started) * 1000)},
        )
    return {"status": status}
