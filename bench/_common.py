"""Shared set-up for the benchmarks: a moto server with the template's tables, and DynamoDB call tallies."""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from infra.bootstrap import create_tables
from infra.dev import LOCAL_AWS_ENVIRONMENT
from infra.moto_server import MotoServer
from infra.redis_server import RedisServer
from watchlist_core import wiring
from watchlist_core.settings import get_settings


@contextmanager
def local_stack() -> Iterator[RedisServer]:
    """A moto server with the tables and a redis-server of its own, as the API's environment."""
    with MotoServer() as moto, RedisServer() as redis:
        os.environ.update(LOCAL_AWS_ENVIRONMENT)
        os.environ["DYNAMODB_ENDPOINT_URL"] = moto.endpoint_url
        os.environ["REDIS_URL"] = redis.url
        os.environ["RATE_LIMIT_USER"] = "1000000/60"  # the benchmarks measure work, not refusals
        wiring.reset()
        create_tables(get_settings())
        yield redis


def uncached(user_id: str) -> None:
    """Make the user's next read miss the response cache, as a write on another instance would."""
    wiring.get_services().cache.user_data_changed(user_id)


@dataclass
class DynamoDBTally:
    """Every DynamoDB request made through botocore (PynamoDB included): count by operation, time, scans."""

    operations: Counter[str] = field(default_factory=Counter)
    scanned_count: int = 0
    seconds: float = 0.0

    def reset(self) -> None:
        self.operations.clear()
        self.scanned_count = 0
        self.seconds = 0.0


@contextmanager
def tally_dynamodb() -> Iterator[DynamoDBTally]:
    tally = DynamoDBTally()
    original = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            response = original(client, operation, params)
        finally:
            tally.seconds += time.perf_counter() - started
        tally.operations[operation] += 1
        tally.scanned_count += int(response.get("ScannedCount", 0))
        return response

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(samples: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "p99": percentile(samples, 0.99), "n": len(samples)}
