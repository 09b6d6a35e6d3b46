"""Moves what was stored before the hot keys were sharded onto the shard keys.

python -m infra.aws.migrate_keys     # or make migrate-keys; against DYNAMODB_ENDPOINT_URL, or AWS

Before, every account was in the `directory` index under the one key `USER` (with its item counts and password
hash, rewritten there on each item change), the user tally was the one item `TALLY#users`, and every audit
event was under the one key `audit` of `by_time` and its bare action in `by_action`. The code reads both layouts,
so nothing is missing before this runs; it only takes the load off those keys. Run it once after deploying,
while the API serves: each record moves in one conditional write, so a concurrent change is never lost, and a
second run moves what the first could not (it prints what it moved and skipped; run it until both are 0).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import partial

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from watchlist_core.settings import get_settings
from watchlist_core.storage.audit_events import SHARDS as AUDIT_SHARDS
from watchlist_core.storage.audit_events import STREAM
from watchlist_core.storage.shards import shard_key, shard_keys
from watchlist_core.storage.tables import AuditEventRecord, DirectoryEntryRecord, TallyRecord, UserRecord, bind_tables
from watchlist_core.storage.tables import connection_for as dynamodb_connection
from watchlist_core.storage.transactions import NamedWrites, conditional_write, run_transaction
from watchlist_core.storage.users import (
    ALL_USERS_TALLY,
    DIRECTORY,
    LEGACY_DIRECTORY_ATTRIBUTES,
    USER_SHARDS,
    directory_entry,
    user_of,
)


@dataclass
class Moved:
    moved: int = 0
    skipped: int = 0  # changed meanwhile (and so moved by that change), or gone: the next run looks again


def migrate_directory() -> Moved:
    """Each account under `USER` gets its own directory entry, and leaves the index, in one transaction."""
    connection = dynamodb_connection(get_settings())
    result = Moved()
    for legacy in DirectoryEntryRecord.directory_index.query(DIRECTORY):

        def build(writes: NamedWrites, legacy: DirectoryEntryRecord = legacy) -> None:
            writes.update(
                "account",
                UserRecord(pk=legacy.pk),
                actions=[path.remove() for path in LEGACY_DIRECTORY_ATTRIBUTES],
                condition=(UserRecord.role == legacy.role) & Path("directory").exists(),
            )
            writes.put("directory entry", directory_entry(user_of(legacy)))

        try:
            run_transaction(connection, build)
        except TransactWriteError:
            result.skipped += 1
            continue
        result.moved += 1
    return result


def migrate_user_tally() -> Moved:
    """`TALLY#users` is added to its shard 0 and deleted, in one transaction (no registration counted twice)."""
    connection = dynamodb_connection(get_settings())
    try:
        legacy = TallyRecord.get(ALL_USERS_TALLY, consistent_read=True)
    except DoesNotExist:
        return Moved()
    value = int(legacy.value)

    def build(writes: NamedWrites) -> None:
        writes.update(
            "shard", TallyRecord(pk=shard_keys(ALL_USERS_TALLY, USER_SHARDS)[0]), [TallyRecord.value.add(value)]
        )
        writes.delete("legacy", TallyRecord(pk=ALL_USERS_TALLY), condition=TallyRecord.value == value)

    try:
        run_transaction(connection, build)
    except TransactWriteError:
        return Moved(skipped=1)
    return Moved(moved=value)


def migrate_audit_indexes() -> Moved:
    """Each event under `audit` moves to its time shard and action shard, in one conditional update."""
    result = Moved()
    for legacy in AuditEventRecord.by_time.query(STREAM):
        actions: list[Action] = [
            AuditEventRecord.stream.set(shard_key(STREAM, AUDIT_SHARDS, legacy.id)),
            AuditEventRecord.action.set(shard_key(legacy.action, AUDIT_SHARDS, legacy.id)),
        ]
        move = partial(
            AuditEventRecord(id=legacy.id).update, actions=actions, condition=AuditEventRecord.stream == STREAM
        )
        if conditional_write(move):
            result.moved += 1
        else:
            result.skipped += 1
    return result


def migrate() -> dict[str, Moved]:
    return {
        "directory entries": migrate_directory(),
        "user tally": migrate_user_tally(),
        "audit events": migrate_audit_indexes(),
    }


def main() -> int:
    bind_tables(get_settings())
    print(json.dumps({name: asdict(moved) for name, moved in migrate().items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
