"""Counting AWS requests made through botocore (boto3 and PynamoDB alike), for tests and benchmarks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
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


# What sees each request: (the client, the operation, its parameters, a call that sends it and returns the answer).
Interceptor = Callable[[Any, str, dict[str, Any], Callable[[], Any]], Any]


@contextmanager
def intercepting_aws_calls(intercept: Interceptor) -> Iterator[None]:
    """Every request any botocore client (boto3's and PynamoDB's alike) makes meanwhile goes through `intercept`."""
    original = BaseClient._make_api_call

    def intercepted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return intercept(client, operation, params, lambda: original(client, operation, params))

    BaseClient._make_api_call = intercepted
    try:
        yield
    finally:
        BaseClient._make_api_call = original


@contextmanager
def tally_aws_calls(service: str) -> Iterator[AwsCallTally]:
    """Count every `service` request ("dynamodb", "sqs") any botocore client makes meanwhile, failed ones too."""
    tally = AwsCallTally()

    def counted(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        if client.meta.service_model.service_name != service:
            return send()
        tally.operations[operation] += 1
        started = time.perf_counter()
        try:
            response = send()
        finally:
            tally.seconds += time.perf_counter() - started
        tally.scanned_count += int(response.get("ScannedCount", 0))
        return response

    with intercepting_aws_calls(counted):
        yield tally
