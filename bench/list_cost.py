"""DynamoDB requests and ScannedCount for one list page, at 10, 1,000 and 10,000 items per user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from bench._common import local_stack, tally_dynamodb, uncached
from tests.support import Api
from watchlist_core.domain import ItemStatus, ItemType, WatchlistItem
from watchlist_core.storage.items import count_field, derived_keys
from watchlist_core.storage.tables import ItemRecord, UserRecord
from watchlist_core.storage.users import user_pk

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
TYPES = list(ItemType)
STATUSES = list(ItemStatus)


def seed(user_id: str, count: int) -> None:
    """`count` items written as ItemStore.create writes them, in batches, with the owner's counts."""
    started = datetime(2020, 1, 1, tzinfo=UTC)
    counts: dict[str, int] = {}
    with ItemRecord.batch_write() as batch:
        for number in range(count):
            moment = started + timedelta(minutes=number)
            item = WatchlistItem(
                id=str(ULID.from_datetime(moment)),
                title=f"Title {number:05d}",
                type=TYPES[number % 2],
                status=STATUSES[number % 4] if number % 10 else ItemStatus.COMPLETED,
                year=1950 + number % 70,
                rating=number % 10 + 1 if number % 3 else None,
                created_at=moment,
                updated_at=moment,
                version=1,
            )
            fields = item.model_dump(mode="json", exclude={"id", "version"})
            attributes = fields | derived_keys(item.id, fields)
            batch.save(ItemRecord(user_id=user_id, item_id=item.id, version=1, **attributes))
            key = count_field(item.type, item.status)
            counts[key] = counts.get(key, 0) + 1
    UserRecord(pk=user_pk(user_id)).update(actions=[UserRecord.item_counts.set(counts)])


def main() -> None:
    with local_stack():
        from watchlist_api.handler import handler

        api = Api(handler)
        print(f"{'items':>6}  {'query (limit=20)':24} {'requests':34} {'ScannedCount':>12} {'returned':>8}")
        for size in SIZES:
            user, token = api.new_user()
            seed(user["id"], size)
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
