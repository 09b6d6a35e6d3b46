"""The Redis key layout (state/keys.py) a cluster depends on: what one pipeline reads shares one hash slot."""

from __future__ import annotations

import uuid

from redis.crc import key_slot

from watchlist_core.state import keys


def _slot(key: str) -> int:
    return key_slot(key.encode())


def test_a_users_admission_keys_share_the_slot_of_their_partitions_marker() -> None:
    for _ in range(200):
        user_id, session_id = str(uuid.uuid4()), uuid.uuid4().hex
        user = keys.user(user_id)
        admission = [
            keys.rate_counter(user, "user", 29936473),
            keys.rate_counter(user, "user", 29936472),
            keys.session_ended(user_id, session_id),
            keys.session_vouched(user_id, session_id),
            keys.cache_version(user_id),
            keys.cache_entry(user_id, 7, "0" * 32),
            keys.revocations_since(user_id),
        ]
        assert {_slot(key) for key in admission} == {_slot(keys.revocations_since(user_id))}


def test_the_users_spread_evenly_over_the_shards() -> None:
    """Partitions by CRC32 of the id: each shard of a cluster (here 3 or 10, the slots split evenly) holds its
    share of the users, within 5 %."""
    users = [str(uuid.uuid5(uuid.NAMESPACE_OID, str(number))) for number in range(30_000)]  # the same every run
    slots = [_slot(keys.user(user_id)) for user_id in users]
    for shards in (3, 10):
        counts = [0] * shards
        for slot in slots:
            counts[slot * shards // 16384] += 1
        assert all(abs(count - len(slots) / shards) < 0.05 * len(slots) / shards for count in counts), counts


def test_an_addresss_and_an_accounts_keys_each_share_one_slot() -> None:
    address = keys.client_address("198.51.100.7")
    assert _slot(keys.rate_counter(address, "login", 1)) == _slot(keys.rate_counter(address, "anonymous", 2))
    account = keys.login_account("ab" * 16)
    assert len({_slot(account + suffix) for suffix in ("f", "f:x", "lock:x", "strikes:x", "known")}) == 1
