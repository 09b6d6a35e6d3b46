"""Shared set-up for the benchmarks: a moto server with the template's tables and queues, and AWS call tallies."""

from __future__ import annotations

import io
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any, cast

from infra.aws.calls import AwsCallTally, intercepting_aws_calls, tally_aws_calls
from infra.commands.dev import DEV_ENVIRONMENT
from infra.local.events import api_gateway_event
from infra.local.local_aws import use_moto
from infra.local.moto_server import MotoServer
from infra.local.redis_server import RedisServer
from infra.local.signing_key import use_local_signing_key
from tests.support import Api
from watchlist_core import wiring
from watchlist_core.observability import logger

# Stated, not measured: what a function in the same region waits for (p50, small items).
DYNAMODB_LATENCY_MS = {
    "GetItem": 4.0,
    "Query": 6.0,
    "PutItem": 6.0,
    "UpdateItem": 6.0,
    "BatchWriteItem": 8.0,
    "TransactWriteItems": 12.0,
}


@contextmanager
def dynamodb_latency() -> Iterator[None]:
    """Each DynamoDB request waits as long as it would in the region (the stated latencies above),
    on top of moto's own time: the wait that storing side by side overlaps."""

    def delayed(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            time.sleep(DYNAMODB_LATENCY_MS[operation] / 1000)
        return send()

    with intercepting_aws_calls(delayed):
        yield


@contextmanager
def local_stack() -> Iterator[RedisServer]:
    """A moto server with the tables and queues and a redis-server of its own, as the API's environment."""
    with MotoServer() as moto, RedisServer() as redis:
        os.environ.update(DEV_ENVIRONMENT)
        use_local_signing_key()
        os.environ["REDIS_URL"] = redis.url
        os.environ["RATE_LIMIT_USER"] = "1000000/60"  # the benchmarks measure work, not refusals
        use_moto(moto.endpoint_url)
        yield redis


@contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Everything the functions write for CloudWatch Logs (the logger's lines, the metrics' EMF lines), kept
    out of the benchmark's output; the logger stays at its deployed level, so its cost is measured."""
    output = io.StringIO()
    handler = cast(logging.StreamHandler[Any], logger.registered_handler)
    previous = handler.setStream(output)
    try:
        with redirect_stdout(output):
            yield output
    finally:
        handler.setStream(previous)


@dataclass(frozen=True)
class ReaderAndWriter:
    """The warm benchmarks' callers: a reader whose list holds 20 items, and a writer with a list of its own."""

    reader_id: str
    list_event: dict[str, Any]  # GET /v1/watchlists?limit=20 with the reader's token
    writer_headers: list[tuple[str, str]]  # a JSON POST's, with the writer's token

    @classmethod
    def signed_up(cls, api: Api) -> ReaderAndWriter:
        with captured_output():
            reader_user, reader = api.new_user()
            for number in range(20):
                api.post("/v1/watchlists/items", token=reader, json={"title": f"Film {number}", "type": "movie"})
            _, writer = api.new_user()  # its own list, so the reader's stays at 20 items
        list_event = api_gateway_event(
            "GET", "/v1/watchlists", headers=[("Authorization", f"Bearer {reader}")], query="limit=20"
        )
        return cls(
            reader_user["id"], list_event, [("Authorization", f"Bearer {writer}"), ("Content-Type", "application/json")]
        )


def uncached(user_id: str) -> None:
    """Make the user's next read miss the response cache, as a write on another instance would."""
    wiring.get_services().cache.user_data_changed(user_id)


def tally_dynamodb() -> AbstractContextManager[AwsCallTally]:
    return tally_aws_calls("dynamodb")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(samples: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "p99": percentile(samples, 0.99), "n": len(samples)}


def interleaved(
    calls: Mapping[str, Callable[[], object]], rounds: int, prepare: Callable[[], object] = lambda: None
) -> dict[str, list[float]]:
    """Milliseconds of each call, `rounds` times, one of each in turn, so machine noise falls on all alike;
    `prepare` runs, untimed, before every call."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            prepare()
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def print_against_bare(samples: dict[str, list[float]], bare: str, heading: str = "warm handler(event)") -> None:
    """Median, p99 and the median's ratio to the `bare` case, one line per case."""
    width = max(len(heading), *(len(name) for name in samples)) + 2
    bare_median = describe(samples[bare])["median"]
    print(f"\n{heading:{width}} {'median ms':>10} {'p99 ms':>8} {'x bare':>7}")
    for name, values in samples.items():
        figures = describe(values)
        print(f"{name:{width}} {figures['median']:10.2f} {figures['p99']:8.2f} {figures['median'] / bare_median:7.2f}")
