"""Lambda instances for the local gateway: each runs one invocation at a time, as in AWS.

One instance runs the handler in the gateway's own process. `INSTANCES=N make dev` starts N processes, each
importing the handler (its own cold start, its own caches and connections, as a Lambda instance has); a request
goes to an idle one and waits when none is idle, as Lambda would start another (up to N here).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from infra.local.events import LambdaContext

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Instances(Protocol):
    """What the gateway invokes: a response, and which instance gave it."""

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]: ...


class InProcessInstance:
    """The handler in this process, one invocation at a time."""

    def __init__(self, handler: LambdaHandler) -> None:
        self._handler = handler
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The handler's response, and which instance gave it."""
        with self._lock:
            return self._handler(event, LambdaContext()), 1

    def close(self) -> None:
        """Nothing to stop: the handler lives and dies with this process."""


# What API Gateway answers when the function could not initialise (an import error, say).
INIT_ERROR = {
    "statusCode": 502,
    "headers": {"Content-Type": "application/json"},
    "body": '{"message": "Internal server error"}',
}


def _serve(connection: Connection, module: str) -> None:
    """An instance process: import the handler (its cold start), then invoke it for every event it is sent. An
    import that fails is logged, and every event answered as API Gateway answers a function that failed to start."""
    import importlib
    import traceback

    try:
        handler: LambdaHandler | None = importlib.import_module(module).handler
    except Exception:  # noqa: BLE001 (any failure to start: Lambda's init error)
        traceback.print_exc()
        handler = None
    while True:
        try:
            event = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        connection.send(handler(event, LambdaContext()) if handler else INIT_ERROR)


class PoolClosedError(Exception):
    """The pool closed while an invocation waited for one of its instances."""


class InstancePool:
    """N instance processes; an invocation takes an idle one, waiting while all are busy."""

    def __init__(self, count: int, module: str = "watchlist_api.handler") -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter each: nothing shared but the environment
        self._idle: queue.Queue[tuple[int, Connection]] = queue.Queue()
        self._closed = False
        self._processes = []
        for number in range(1, count + 1):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, module), name=f"instance-{number}", daemon=True)
            process.start()
            self._processes.append(process)
            self._idle.put((number, ours))

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Raises PoolClosedError if the pool closes before an instance is free (a reload replaced it)."""
        while True:
            try:
                number, connection = self._idle.get(timeout=0.5)
                break
            except queue.Empty:
                if self._closed:
                    raise PoolClosedError from None
        try:
            connection.send(event)
            response: dict[str, Any] = connection.recv()
            return response, number
        finally:
            self._idle.put((number, connection))

    def close(self, grace_seconds: float = 10) -> None:
        """Stops the processes once the invocations they are running are over (at most `grace_seconds`)."""
        self._closed = True
        deadline = time.monotonic() + grace_seconds
        for _ in self._processes:
            try:
                self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=10)


def instances(count: int, handler: LambdaHandler) -> InProcessInstance | InstancePool:
    return InProcessInstance(handler) if count == 1 else InstancePool(count)
