"""`python -m infra.local.moto_atomic`: moto's server, with DynamoDB's atomic writes, and SES keeping what it sent in
the local mailbox (infra/local/mailbox.py) when LOCAL_MAILBOX names its file.

moto applies a conditional write or a transaction without a lock: two at once can both read the old value and
both succeed (a lost update of a counter, two claims of one e-mail), which DynamoDB never allows. One lock
around every DynamoDB write makes them atomic, as DynamoDB's are; reads, and SQS long polls, stay concurrent.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main
from moto.ses.models import SESBackend

from infra.local.mailbox import MAILBOX_VARIABLE, record

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


def _kept_in(mailbox: Path) -> Callable[..., Any]:
    """SES's send (SESv2 SendEmail comes here too), each sent message also written to the mailbox."""
    send = SESBackend.send_email

    @functools.wraps(send)
    def send_and_keep(self: SESBackend, source: str, subject: str, body: str, destinations: dict[str, Any]) -> Any:
        message = send(self, source, subject, body, destinations)
        for address in destinations.get("ToAddresses", []):
            record(mailbox, address, subject, body)
        return message

    return send_and_keep


if os.environ.get(MAILBOX_VARIABLE):
    SESBackend.send_email = _kept_in(Path(os.environ[MAILBOX_VARIABLE]))  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
