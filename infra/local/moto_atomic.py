"""`python -m infra.local.moto_atomic`: moto's server, with DynamoDB's atomic writes.

moto applies a conditional write or a transaction without a lock: two at once can both read the old value and
both succeed (a lost update of a counter, two claims of one e-mail), which DynamoDB never allows. One lock
around every DynamoDB write makes them atomic, as DynamoDB's are; reads, and SQS long polls, stay concurrent.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()  # re-entrant: a transaction's writes go through the same methods


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return write(*args, **kwargs)

    return locked


for _name in _WRITES:
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main()
