"""Warm invocations: `handler(event)` for a 20-item list (response cache bypassed) and an item POST against
the moto server, next to a bare Mangum + FastAPI handler returning static JSON and a bare SQS SendMessage (the
round trip the POST's audit send makes), in interleaved rounds.

"own" is the time not spent waiting for DynamoDB. Targets (issue 12): the list's own time within 3x the bare
handler; the POST's own time, its audit send included, within 3x the bare handler plus the SQS round trip."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from fastapi import FastAPI
from mangum import Mangum

from bench._common import ReaderAndWriter, captured_output, describe, local_stack, tally_dynamodb, uncached
from infra.local.events import LambdaContext, api_gateway_event
from tests.support import Api

ROUNDS = 30
PER_ROUND = 10
WARM_UP = 30
LIST = "GET /v1/watchlists (20 items)"
POST = "POST /v1/watchlists/items"
BARE = "bare Mangum+FastAPI, static JSON"
SQS = "bare SQS SendMessage (boto3)"


def bare_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    app = FastAPI()

    @app.get("/v1/watchlists")
    def static() -> dict[str, Any]:
        return {"items": [], "next_cursor": None, "total": 0}

    return Mangum(app, lifespan="off")


Case = tuple[
    Callable[[], None], Callable[[], dict[str, Any]]
]  # (prepare, call): prepare runs, untimed, before each call


def measure(cases: dict[str, Case]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Milliseconds of each call, and of each call's time not spent waiting for DynamoDB."""
    for prepare, call in cases.values():
        for _ in range(WARM_UP):
            prepare()
            assert call()["statusCode"] in (200, 201)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    outside_dynamodb: dict[str, list[float]] = {name: [] for name in cases}
    with tally_dynamodb() as tally:
        for _ in range(ROUNDS):
            for name, (prepare, call) in cases.items():
                for _ in range(PER_ROUND):
                    prepare()
                    tally.reset()
                    started = time.perf_counter()
                    call()
                    elapsed = time.perf_counter() - started
                    samples[name].append(elapsed * 1000)
                    outside_dynamodb[name].append((elapsed - tally.seconds) * 1000)
    return samples, outside_dynamodb


def main() -> None:
    with local_stack():
        from watchlist_api.handler import handler

        callers = ReaderAndWriter.signed_up(Api(handler))
        list_event, post_headers = callers.list_event, callers.writer_headers
        post_body = b'{"title": "Benchmark", "type": "show"}'
        bare = bare_handler()
        sqs = boto3.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
        audit_sized_body = json.dumps({"padding": "x" * 400})  # an item-created audit event is ~450 bytes

        def nothing() -> None:
            return None

        # The list must miss the response cache.
        cases: dict[str, Case] = {
            LIST: (
                lambda: uncached(callers.reader_id),
                lambda: handler(list_event, LambdaContext()),
            ),
            POST: (
                nothing,
                lambda: handler(
                    api_gateway_event("POST", "/v1/watchlists/items", headers=post_headers, body=post_body),
                    LambdaContext(),
                ),
            ),
            BARE: (nothing, lambda: bare(list_event, LambdaContext())),
            SQS: (
                nothing,
                lambda: {
                    "statusCode": 200,
                    "sent": sqs.send_message(QueueUrl=os.environ["AUDIT_QUEUE_URL"], MessageBody=audit_sized_body),
                },
            ),
        }
        with captured_output():
            samples, outside_dynamodb = measure(cases)
        bare_median = describe(samples[BARE])["median"]
        print("handler(event) latency; 'own' excludes the time spent waiting for DynamoDB (the moto server)")
        print(f"{'case':36} {'median ms':>10} {'p99 ms':>8} {'x bare':>7} {'own median':>11}  n")
        own = {name: describe(values)["median"] for name, values in outside_dynamodb.items()}
        for name, values in samples.items():
            figures = describe(values)
            ratio = figures["median"] / bare_median
            median, p99 = figures["median"], figures["p99"]
            print(f"{name:36} {median:10.2f} {p99:8.2f} {ratio:7.1f} {own[name]:11.2f}  {figures['n']}")
        print(f"list own / bare: {own[LIST] / bare_median:.2f}x (target <= 3)")
        print(f"POST own / (bare + SQS round trip): {own[POST] / (bare_median + own[SQS]):.2f}x (target <= 3)")


if __name__ == "__main__":
    main()
