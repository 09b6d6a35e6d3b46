"""Conditional writes and transactions: running them, and reading why DynamoDB refused one."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

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


def write_condition_failed(error: TransactWriteError, position: int) -> bool:
    """Whether the transaction's write at `position` was refused by its condition. A transaction that never
    reached DynamoDB has no reasons at all: False for every position."""
    codes = cancellation_codes(error)
    return position < len(codes) and codes[position] == "ConditionalCheckFailed"


def run_transaction(connection: Connection, build: Callable[[TransactWrite], None]) -> None:
    """Commit the writes `build` adds, retrying only on transaction conflicts."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            with TransactWrite(connection=guarded(connection)) as transaction:
                build(transaction)
            return
        except TransactWriteError as error:
            if "TransactionConflict" not in cancellation_codes(error) or attempt == CONFLICT_RETRIES:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter, not security)
