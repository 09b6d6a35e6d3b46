"""Running a DynamoDB transaction and reading why DynamoDB cancelled one."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

# Two transactions touching one item at once: DynamoDB cancels one with TransactionConflict;
# retrying it is always safe, because the cancelled one changed nothing.
CONFLICT_RETRIES = 4


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in error.cancellation_reasons]


def run_transaction(connection: Connection, build: Callable[[TransactWrite], None]) -> None:
    """Commit the writes `build` adds, retrying only on transaction conflicts."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            with TransactWrite(connection=connection) as transaction:
                build(transaction)
            return
        except TransactWriteError as error:
            if "TransactionConflict" not in cancellation_codes(error) or attempt == CONFLICT_RETRIES:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter, not security)
