"""Requests done once: a write sent again with the same Idempotency-Key by the same caller, with the same request,
gets the first answer back for 24 hours instead of being done again (draft-ietf-httpapi-idempotency-key-header).

Powertools' idempotency utility keeps one record per caller and key in DynamoDB: written "in progress" (a
conditional put) before the work, "completed" with the answer after it, deleted if the work fails, so a failed
request can be retried. A twin arriving while the first is in progress is refused, to be retried shortly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from watchlist_core.errors import DependencyUnavailableError, InvalidInputError, RequestInProgressError
from watchlist_core.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig

KEY_FIELD = ("header", "Idempotency-Key")
Answer = dict[str, Any]


WINDOW_SECONDS = 24 * 3600  # how long a key's answer is kept, and replayed


class IdempotentRequests:
    """`persistence` is built on first use: Powertools' idempotency utility imports boto3, which a cold start
    that serves no such request need not pay for."""

    def __init__(self, persistence: Callable[[], BasePersistenceLayer]) -> None:
        self._persistence = persistence

    def answer(
        self, caller: str, key: str, request: dict[str, Any], work: Callable[[], Answer], lambda_context: Any
    ) -> Answer:
        """`work()`'s answer, or the answer it gave the first time `caller` sent `key` with this `request`."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            BaseError,
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        config, once = self._idempotent
        if lambda_context is not None:
            config.register_lambda_context(lambda_context)  # a crashed attempt frees the key at its timeout
        done: list[Answer] = []

        def do_work() -> Answer:
            done.append(work())
            return done[0]

        try:
            return once(do_work, attempt={"caller": caller, "key": key, "request": request})
        except IdempotencyAlreadyInProgressError as error:
            raise RequestInProgressError("A request with this Idempotency-Key is still in progress.") from error
        except IdempotencyValidationError as error:
            raise InvalidInputError(
                "This Idempotency-Key was already used for a different request.", field=KEY_FIELD
            ) from error
        except BaseError as error:
            if done:  # the work is done, only its record is missing: answer; a retry could repeat it
                logger.warning("idempotency record not completed", extra={"error_class": type(error).__name__})
                return done[0]
            raise DependencyUnavailableError("Idempotency keys cannot be checked right now.") from error

    @cached_property
    def _idempotent(self) -> tuple[IdempotencyConfig, Callable[..., Answer]]:
        """Powertools' configuration (which takes each invocation's Lambda context) and `_answer` made idempotent."""
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        config = IdempotencyConfig(
            event_key_jmespath="[caller, key]",
            payload_validation_jmespath="request",
            expires_after_seconds=WINDOW_SECONDS,
            raise_on_no_idempotency_key=True,
        )
        once = idempotent_function(
            _answer,
            data_keyword_argument="attempt",
            persistence_store=self._persistence(),
            config=config,
            key_prefix="watchlist-api",
        )
        return config, once


def _answer(work: Callable[[], Answer], *, attempt: dict[str, Any]) -> Answer:
    """What Powertools runs once per caller and key: `attempt` is what it hashes (caller, key) and validates."""
    return work()
