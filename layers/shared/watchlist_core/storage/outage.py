"""When DynamoDB stops answering, stop asking it for a moment.

Each call is bounded by its timeouts and one retry; without more, a request that makes two calls to a hung
DynamoDB waits out both, and every invocation meanwhile holds its Lambda instance for seconds. After a call
gets no answer (a timeout, a refused or dropped connection), calls from this instance fail at once for a short
pause, so a request answers 503 within one call's budget, and the first call after the pause tries again.
Throttling and errors DynamoDB answers with do not pause anything: they are answers.
"""

from __future__ import annotations

import weakref
from typing import Any

from botocore import exceptions as aws

from watchlist_core.observability import count, logger
from watchlist_core.pause import Pause


class DynamoDBPaused(aws.BotoCoreError):  # type: ignore[misc]  # mapped like any other unreachable DynamoDB
    fmt = "DynamoDB did not answer a moment ago; not asking again until the pause ends"


class Outage:
    def __init__(self, pause_seconds: float) -> None:
        self.pause = Pause(pause_seconds)
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, client: Any) -> None:
        """Guard every call of a botocore DynamoDB client (once per client)."""
        if client in self._watched:
            return
        client.meta.events.register("before-send.dynamodb", self._refuse_while_paused)
        client.meta.events.register("after-call-error.dynamodb", self._pause_after_no_answer)
        self._watched.add(client)

    def _refuse_while_paused(self, **_: Any) -> None:
        if self.pause.active:
            raise DynamoDBPaused

    def _pause_after_no_answer(self, exception: Exception, **_: Any) -> None:
        # No answer: timeouts, refused and dropped connections (an answer, even an error, is not an outage).
        if not isinstance(exception, aws.ConnectionError | aws.HTTPClientError):
            return
        self.pause.start()
        logger.warning("dynamodb unavailable; pausing calls", extra={"error_class": type(exception).__name__})
        count("DynamoDBUnavailable")
