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
from dataclasses import asdict

from watchlist_core.settings import get_settings
from watchlist_core.storage.audit_events import AuditEventStore
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.shards import Moved
from watchlist_core.storage.tables import bind_tables, connection_for
from watchlist_core.storage.users import UserStore
from watchlist_core.wiring import signing_key


def migrate() -> dict[str, Moved]:
    settings = get_settings()
    cursors = CursorCodec(signing_key)  # never read: moving pages nothing
    users = UserStore(connection_for(settings), OutboxStore(settings.audit_outbox_grace_seconds), cursors)
    return {
        "directory entries": users.move_legacy_directory(),
        "user tally": users.move_legacy_tally(),
        "audit events": AuditEventStore(settings.audit_retention_days, cursors).move_legacy(),
    }


def main() -> int:
    bind_tables(get_settings())
    print(json.dumps({name: asdict(moved) for name, moved in migrate().items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
