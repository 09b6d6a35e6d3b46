"""Counting AWS requests made through botocore (boto3 and PynamoDB alike), for tests and benchmarks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass
class AwsCallTally:
    """Requests to one service: count by operation, time spent, and items DynamoDB scanned."""

    operations: Counter[str] = field(default_factory=Counter)
    scanned_count: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.operations.values())

    def reset(self) -> None:
        self.operations.clear()
        self.scanned_count = 0
        self.seconds = 0.0


@contextmanager
def tally_aws_calls(service: str) -> Iterator[AwsCallTally]:
    """Count every `service` request ("dynamodb", "sqs") any botocore client makes meanwhile, failed ones too."""
    tally = AwsCallTally()
    original = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name != service:
            return original(client, operation, params)
        tally.operations[operation] += 1
        started = time.perf_counter()
        try:
            response = original(client, operation, params)
        finally:
            tally.seconds += time.perf_counter() - started
        tally.scanned_count += int(response.get("ScannedCount", 0))
        return response

    BaseClient._make_api_call = counted
    try:
        yield tally
    finally:
        BaseClient._make_api_call = original
