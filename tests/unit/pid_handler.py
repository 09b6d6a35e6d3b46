"""A Lambda handler for the instance tests: answers which process it runs in, after sleeping as asked."""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(event.get("sleep", 0))
    return {"statusCode": 200, "body": str(os.getpid())}
