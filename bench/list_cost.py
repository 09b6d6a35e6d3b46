"""DynamoDB requests and ScannedCount for one list page, at 10, 1,000 and 10,000 items per user."""

from __future__ import annotations

from typing import Any

from bench._common import local_stack, tally_dynamodb, uncached
from tests.support import Api, seed_items

SIZES = (10, 1_000, 10_000)
QUERIES: dict[str, dict[str, Any]] = {
    "default (-created_at)": {},
    "type=movie": {"type": "movie"},
    "sort=title": {"sort": "title"},
    "sort=-rating": {"sort": "-rating"},
    "type=show&sort=year": {"type": "show", "sort": "year"},
    "status=completed": {"status": "completed"},
    "skip=100": {"skip": 100},
}


def main() -> None:
    with local_stack():
        from watchlist_api.handler import handler

        api = Api(handler)
        print(f"{'items':>6}  {'query (limit=20)':24} {'requests':34} {'ScannedCount':>12} {'returned':>8}")
        for size in SIZES:
            user, token = api.new_user()
            seed_items(user["id"], size)
            for label, query in QUERIES.items():
                api.get("/v1/watchlists", token=token, query=query | {"limit": 20})  # warm
                uncached(user["id"])  # measure the read from DynamoDB, not the response cache
                with tally_dynamodb() as tally:
                    response = api.get("/v1/watchlists", token=token, query=query | {"limit": 20})
                assert response.status == 200, response.body
                requests = ", ".join(f"{op} {n}" for op, n in sorted(tally.operations.items()))
                returned = len(response.json()["items"])
                print(f"{size:6}  {label:24} {requests:34} {tally.scanned_count:12} {returned:8}")


if __name__ == "__main__":
    main()
