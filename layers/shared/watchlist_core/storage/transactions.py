"""Conditional writes and transactions: running them, and reading why DynamoDB refused one."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from watchlist_core.errors import DomainError
from watchlist_core.storage.tables import guarded

# Two transactions touching one item at once: DynamoDB cancels one with TransactionConflict;
# retrying it is always safe, because the cancelled one changed nothing.
CONFLICT_RETRIES = 4


def aws_error_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code; None when DynamoDB never answered (a timeout, a refused connection)."""
    cause = error.cause
    return cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None


def conditional_write(write: Callable[[], object]) -> bool:
    """Runs a conditional write: True when it was made, False when its condition did not hold. Any other
    failure (no answer, throttling) propagates."""
    try:
        write()
    except PynamoDBException as error:
        if aws_error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in error.cancellation_reasons]


# The order PynamoDB sends a transaction's writes in (Connection.transact_write_items: condition checks, deletes,
# puts, updates, each kind in the order added); DynamoDB's cancellation reasons come back in the same order.
# tests/unit/test_stores.py holds PynamoDB to it.
_SENT_ORDER = ("delete", "put", "update")


class NamedWrites:
    """A transaction's writes, each under a name, so that a refusal is read by name, never by position."""

    def __init__(self, transaction: TransactWrite) -> None:
        self._transaction = transaction
        self._names: dict[str, list[str]] = {kind: [] for kind in _SENT_ORDER}

    def put(self, name: str, model: Model, condition: Condition | None = None) -> None:
        self._transaction.save(model, condition=condition)
        self._names["put"].append(name)

    def update(self, name: str, model: Model, actions: list[Action], condition: Condition | None = None) -> None:
        self._transaction.update(model, actions=actions, condition=condition)
        self._names["update"].append(name)

    def delete(self, name: str, model: Model, condition: Condition | None = None) -> None:
        self._transaction.delete(model, condition=condition)
        self._names["delete"].append(name)

    def refused_by_condition(self, error: TransactWriteError) -> frozenset[str]:
        """The names of the writes whose condition did not hold. A transaction that never reached DynamoDB has no
        reasons at all: none."""
        sent = [name for kind in _SENT_ORDER for name in self._names[kind]]
        return frozenset(
            name
            for name, code in zip(sent, cancellation_codes(error), strict=False)
            if code == "ConditionalCheckFailed"
        )


def run_transaction(
    connection: Connection,
    build: Callable[[NamedWrites], None],
    refusals: Mapping[str, Callable[[], DomainError]] | None = None,
) -> None:
    """Commit the writes `build` adds, retrying only on transaction conflicts. When DynamoDB refuses it because a
    write's condition did not hold, the error `refusals` makes for the first such write it names is raised (made
    anew each time: a raised exception keeps its traceback); a refusal it does not name, and any other failure,
    propagates as PynamoDB's TransactWriteError."""
    for attempt in range(CONFLICT_RETRIES + 1):
        # botocore resends a request whose answer it lost (a read timeout after DynamoDB committed); with the same
        # token, DynamoDB answers that resend with success for ten minutes instead of running it again (where its
        # conditions, now false, would refuse the write that was made). Each attempt here is a new request.
        transaction = TransactWrite(connection=guarded(connection), client_request_token=uuid.uuid4().hex)
        writes = NamedWrites(transaction)
        try:
            with transaction:
                build(writes)
            return
        except TransactWriteError as error:
            if "TransactionConflict" in cancellation_codes(error) and attempt < CONFLICT_RETRIES:
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter, not security)
                continue
            refused = writes.refused_by_condition(error)
            for name, refusal in (refusals or {}).items():
                if name in refused:
                    raise refusal() from error
            raise
