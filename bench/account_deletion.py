"""An account of 10,000 items (and the 10,000 `item.created` events its owner's writes left in the trail): its
export's size and time, and its deletion's time and DynamoDB requests, through the API handler on the moto server;
the deletion again with each DynamoDB request waiting as long as in the region (bench/_common.py), by how many
batches of items are deleted at once; and what AWS's partition limit makes of it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from bench._common import captured_output, dynamodb_latency, local_stack, tally_dynamodb
from infra.aws.calls import AwsCallTally
from tests.support import PASSWORD, Api, seed_items
from watchlist_api.problems import LAMBDA_RESPONSE_LIMIT, size_in_lambda_answer
from watchlist_core import wiring
from watchlist_core.audit.events import item_target, new_event
from watchlist_core.audit.message import AuditAction
from watchlist_core.storage import items
from watchlist_core.storage.tables import ItemRecord

ITEMS = 10_000
BATCHES_AT_ONCE = (1, 4, 8)
# Stated, not measured: an item of under 1 KB costs one write unit, and each of its four local indexes one more; a
# partition (every item of one user) takes about 1,000 write units a second.
WRITE_UNITS_PER_ITEM = 1 + 4
PARTITION_WRITE_UNITS_PER_SECOND = 1_000


def seeded_user(api: Api, events: int = 0) -> tuple[dict[str, Any], str]:
    """A user with ITEMS items and `events` stored audit events of their own, and an access token."""
    with captured_output():
        user, token = api.new_user()
        seed_items(user["id"], ITEMS)
        store = wiring.get_audit_worker().ingest

        def stored(number: int) -> None:
            target = item_target(user["id"], str(number))
            store.store(new_event(AuditAction.ITEM_CREATED, actor_id=user["id"], target=target))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(stored, range(events)))
    return user, token


def timed(call: Callable[[], Any], latency: AbstractContextManager[None]) -> tuple[Any, float, AwsCallTally]:
    with latency, tally_dynamodb() as tally, captured_output():
        started = time.perf_counter()
        answer = call()
        seconds = time.perf_counter() - started
    return answer, seconds, tally


def requests_of(tally: AwsCallTally) -> str:
    return ", ".join(f"{operation} {n}" for operation, n in sorted(tally.operations.items()))


def report(heading: str, seconds: float, tally: AwsCallTally) -> None:
    """The time, and how much of it went to waiting for DynamoDB (summed over threads: requests overlap)."""
    print(f"\n{heading}: {seconds:.2f} s, DynamoDB answering {tally.seconds:.2f} s of it (summed over threads)")
    print(f"  DynamoDB: {requests_of(tally)} ({tally.total} requests)")


@contextmanager
def batches_at_once(count: int) -> Iterator[None]:
    """The purge's thread pool, meanwhile, of `count` threads."""
    original = items._purge_pool
    items._purge_pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="item-purge")
    try:
        yield
    finally:
        items._purge_pool.shutdown()
        items._purge_pool = original


def delete(api: Api, token: str) -> Callable[[], Any]:
    def call() -> Any:
        response = api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD})
        assert response.status == 204, response.body
        return response

    return call


def main() -> None:
    # moto takes seconds for a page of a 10,000-item partition, where DynamoDB takes milliseconds: past the deployed
    # 0.8 s read timeout (the integration tests' moto is given 5 s for the same reason).
    os.environ["DYNAMODB_READ_TIMEOUT_SECONDS"] = "30"
    with local_stack():
        from watchlist_api.handler import handler

        api = Api(handler)
        started = time.perf_counter()
        user, token = seeded_user(api, events=ITEMS)
        print(f"seeded {ITEMS:,} items and {ITEMS:,} audit events in {time.perf_counter() - started:.1f} s")

        export, seconds, tally = timed(lambda: api.get("/v1/auth/me/export", token=token), nullcontext())
        assert export.status == 200, export.body
        report("GET /v1/auth/me/export, moto", seconds, tally)
        print(f"  the function's own work (no request overlaps): {seconds - tally.seconds:.2f} s")
        size = size_in_lambda_answer(export.body)
        print(f"  {len(export.body):,} bytes of JSON; in Lambda's answer {size:,} of {LAMBDA_RESPONSE_LIMIT:,} allowed")

        _, seconds, tally = timed(delete(api, token), nullcontext())
        assert not list(ItemRecord.query(user["id"], consistent_read=True))
        report("DELETE /v1/auth/me, moto", seconds, tally)

        print("\nDELETE /v1/auth/me, each DynamoDB request as long as in the region:")
        for count in BATCHES_AT_ONCE:
            _, token = seeded_user(api)
            with batches_at_once(count):
                _, seconds, tally = timed(delete(api, token), dynamodb_latency())
            print(f"  {count} batch{'es' if count > 1 else ''} at once: {seconds:5.2f} s, {tally.total} requests")

        units = ITEMS * WRITE_UNITS_PER_ITEM
        print(
            f"\nIn AWS: {units:,} write units on one partition, which takes about {PARTITION_WRITE_UNITS_PER_SECOND:,} "
            f"a second: at least {units / PARTITION_WRITE_UNITS_PER_SECOND:.0f} s, however many requests at once"
        )


if __name__ == "__main__":
    main()
