"""Write sharding: a partition key every writer would share is spread over a fixed number of shard keys.

A DynamoDB partition takes about 1,000 write units a second, and a time-ordered sort key defeats its split for
heat, so a constant key (the whole audit trail, the user directory, a tally) stops the table at that rate. Each
record goes to `<base>#<k>`, k from a hash of its own id; a reader asks every shard and merges the answers.
The shard count of a key is fixed for good: changing it would hide the records already written under the old one.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

# Below PynamoDB's ten pooled connections per client, so parallel shard queries never wait for a connection.
_SHARD_QUERY_THREADS = 8
_pool = ThreadPoolExecutor(max_workers=_SHARD_QUERY_THREADS, thread_name_prefix="shard-query")


@dataclass
class Moved:
    """What a move from a bare key to its shards did (infra/aws/migrate_keys.py)."""

    moved: int = 0
    skipped: int = 0  # changed meanwhile (and so moved by that change), or gone: the next run looks again


def shard_key(base: str, shards: int, spread_by: str) -> str:
    return f"{base}#{zlib.crc32(spread_by.encode()) % shards}"


def shard_keys(base: str, shards: int) -> list[str]:
    return [f"{base}#{k}" for k in range(shards)]


def query_in_order(
    index: Any,
    partitions: Sequence[str],
    sort_key: Callable[[Any], str],
    *,
    limit: int,
    descending: bool,
    range_key_condition: Any = None,
    filter_condition: Any = None,
) -> list[Any]:
    """The first `limit` records of `partitions` taken together, in sort-key order.

    The first `limit` overall are among each partition's own first `limit`, so each partition is asked for that
    many (all at once, on a small thread pool) and the answers are merged. A page costs one query per partition.
    """

    def first_of(partition: str) -> list[Any]:
        results = index.query(
            partition,
            range_key_condition=range_key_condition,
            filter_condition=filter_condition,
            scan_index_forward=not descending,
            limit=limit,
            # A filter drops some of what is read: read more per request than is kept.
            page_size=limit * (4 if filter_condition is not None else 1),
        )
        return list(islice(results, limit))

    answers = list(_pool.map(first_of, partitions)) if len(partitions) > 1 else [first_of(partitions[0])]
    return sorted(chain.from_iterable(answers), key=sort_key, reverse=descending)[:limit]
