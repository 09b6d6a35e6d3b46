"""Every Redis key the API uses, and the hash slot each lives in.

On a Redis Cluster a key's slot is the CRC16 of its hash tag (the part in braces), and a slot lives on one shard.
Every pipeline the API sends touches one tag, so it goes to one node in one round trip:

- `{p:<n>}`, a partition of the users (n: CRC32 of the user id, mod 16384): the partition's revocation marker
  (`since`) and, under `u:<id>:`, each of its users' rate-limit counters, cache version and entries, ended and
  vouched sessions, and under `u:<id>:s:<session>:` each session's refresh counters. A user's admission reads
  them all, and their partition's marker, in one round trip; a shard that loses its data loses a partition's
  marker with the revocations it vouches for, never one without the other.
- `{ip:<address>}`: one client address's anonymous rate-limit counters.
- `{login:<digest>}`: one account's login throttle.
- `{gh:<username>}`: one cached GitHub lookup.
"""

from __future__ import annotations

import zlib

PREFIX = "wl:"
# As many partitions as a cluster has slots: each shard holds its share of them, whatever the number of shards.
PARTITIONS = 16384


def partition(user_id: str) -> str:
    return f"{PREFIX}{{p:{zlib.crc32(user_id.encode()) % PARTITIONS}}}:"


def revocations_since(user_id: str) -> str:
    """Since when (Unix time) the user's partition has held every session end: written by the first request that
    finds it missing, so it is missing after the shard holding it lost its data. No expiry."""
    return partition(user_id) + "since"


def user(user_id: str) -> str:
    """The prefix of one user's keys, in their partition's slot."""
    return f"{partition(user_id)}u:{user_id}:"


def session(user_id: str, session_id: str) -> str:
    """The prefix of one session's keys (its refresh rate limit), in its user's partition's slot."""
    return f"{user(user_id)}s:{session_id}:"


def session_ended(user_id: str, session_id: str) -> str:
    return user(user_id) + "ended:" + session_id


def session_vouched(user_id: str, session_id: str) -> str:
    return user(user_id) + "vouched:" + session_id


def cache_version(user_id: str) -> str:
    return user(user_id) + "cv"


def cache_entry(owner_id: str, version: int, resource_digest: str) -> str:
    return f"{user(owner_id)}c:{version}:{resource_digest}"


def client_address(address: str) -> str:
    """The prefix of one client address's keys."""
    return f"{PREFIX}{{ip:{address}}}:"


def rate_counter(subject: str, policy_name: str, window_index: int) -> str:
    """`subject`: a user's, a session's or a client address's prefix."""
    return f"{subject}rl:{policy_name}:{window_index}"


def login_account(email_digest: str) -> str:
    """The prefix of one account's login-throttle keys."""
    return f"{PREFIX}{{login:{email_digest}}}:"


def github_user(username: str) -> str:
    return f"{PREFIX}{{gh:{username.lower()}}}:user"  # GitHub usernames are case-insensitive
