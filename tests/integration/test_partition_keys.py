"""No write path puts a constant partition key on any table or index: one key takes ~1,000 writes a second in all.

Every write the API, the audit function and the relay make is metered (infra/aws/partitions.py): each partition
it reaches must be one entity's own (a user, an item, a session, an event) or one of a key's write shards.
"""

from __future__ import annotations

import os
import uuid

import boto3

from infra.aws.partitions import PartitionMeter, key_shape
from infra.local.sqs_poller import QueuePoller
from tests.support import Api
from watchlist_core.settings import get_settings
from watchlist_core.wiring import get_audit_worker

# Written by admins only, one role change at a time; one item, so "never below one admin" is one condition.
CONSTANT_KEYS_ALLOWED = {"TALLY#admins"}


def test_every_write_path_spreads_its_partition_keys(api: Api, admin_token: str, dynamodb: str) -> None:
    from watchlist_audit.handler import handler as audit_handler

    sqs = boto3.client("sqs", region_name=get_settings().aws_region, endpoint_url=dynamodb)
    poller = QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler)
    meter = PartitionMeter()
    with meter.metering() as touches:
        user, token = api.new_user()
        tokens = api.login(user["email"])
        assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 200
        created = api.post(
            "/v1/watchlists/items",
            token=token,
            json={"title": "Heat", "type": "movie"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status == 201
        item = created.json()["id"]
        assert api.patch(f"/v1/watchlists/items/{item}", token=token, json={"status": "watching"}).status == 200
        assert api.delete(f"/v1/watchlists/items/{item}", token=token).status == 204
        for role in ("admin", "user"):
            assert api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"role": role}).status == 200
        assert api.post("/v1/auth/logout", token=token, json={"refresh_token": tokens["refresh_token"]}).status == 204
        poller.drain()
        get_audit_worker().relay.run()

    written = {(touch.table, touch.index, touch.key) for touch in touches if touch.write_units}
    settings = get_settings()
    reached = {(table, index) for table, index, _ in written}
    assert reached >= {
        (settings.users_table, None),
        (settings.users_table, "directory"),
        (settings.items_table, None),
        (settings.sessions_table, None),
        (settings.idempotency_table, None),
        (settings.audit_outbox_table, None),
        (settings.audit_table, None),
        (settings.audit_table, "by_time"),
        (settings.audit_table, "by_actor"),
        (settings.audit_table, "by_action"),
    }  # every write path was metered
    constant = {
        (table, index, key)
        for table, index, key in written
        if key_shape(key)[0] == "constant" and key not in CONSTANT_KEYS_ALLOWED
    }
    assert constant == set()
