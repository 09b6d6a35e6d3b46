"""Lambda instances for the local gateway: each runs one invocation at a time, as in AWS.

One instance runs the handler in the gateway's own process. `INSTANCES=N make dev` starts N processes, each
importing the handler (its own cold start, its own caches and connections, as a Lambda instance has); a request
goes to an idle one and waits when none is idle, as Lambda would start another (up to N here).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from infra.local.events import LambdaContext

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


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


def _serve(connection: Connection, module: str) -> None:
    """An instance process: import the handler (its cold start), then invoke it for every event it is sent."""
    import importlib

    handler = importlib.import_module(module).handler
    while True:
        try:
            event = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        connection.send(handler(event, LambdaContext()))


class InstancePool:
    """N instance processes; an invocation takes an idle one, waiting while all are busy."""

    def __init__(self, count: int, module: str = "watchlist_api.handler") -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter each: nothing shared but the environment
        self._idle: queue.Queue[tuple[int, Connection]] = queue.Queue()
        self._processes = []
        for number in range(1, count + 1):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, module), name=f"instance-{number}", daemon=True)
            process.start()
            self._processes.append(process)
            self._idle.put((number, ours))

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
        number, connection = self._idle.get()
        try:
            connection.send(event)
            response: dict[str, Any] = connection.recv()
            return response, number
        finally:
            self._idle.put((number, connection))

    def close(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=10)


def instances(count: int, handler: LambdaHandler) -> InProcessInstance | InstancePool:
    return InProcessInstance(handler) if count == 1 else InstancePool(count)
