"""The response cache: entries under a per-user version, so one new version makes all of a user's entries stale.

An entry key holds the version it was written under; a write bumps the version, and old entries are
never read again and expire by TTL. A user's entries live under that user's key tag, so no request
can be answered from another user's entry.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchlist_core.state.client import RedisState, user_tag

if TYPE_CHECKING:
    from redis import Redis


def cache_version_key(user_id: str) -> str:
    return user_tag(user_id) + "cv"


# A user's cache version is a random label, never an incremented count: when the key is gone (expired after
# an hour without requests, evicted, or Redis emptied) a new label starts, so no entry written under an earlier
# one can ever be read again. Every request keeps it alive.
CACHE_VERSION_SECONDS = 3600


def new_cache_version() -> int:
    return secrets.randbits(62) + 1


def start_cache_version(client: Redis, user_id: str) -> int:
    """A label for a user whose key is missing; of two requests starting one at once, the first set wins."""
    key, fresh = cache_version_key(user_id), new_cache_version()
    if client.set(key, fresh, nx=True, ex=CACHE_VERSION_SECONDS):
        return fresh
    return int(client.get(key) or fresh)


@dataclass(frozen=True)
class CachedRepresentation:
    body: bytes
    etag: str
    link: str | None = None  # a page's `Link: rel="next"`, which depends on its body


def _entry_key(owner_id: str, version: int, resource: str) -> str:
    digest = hashlib.sha256(resource.encode()).hexdigest()[:32]
    return f"{user_tag(owner_id)}c:{version}:{digest}"


class ResponseCache:
    def __init__(self, state: RedisState, ttl_seconds: int) -> None:
        self._state = state
        self._ttl = ttl_seconds

    def version(self, owner_id: str) -> int | None:
        """The owner's cache version; None when Redis is unavailable (then nothing is cached)."""

        def read(client: Redis) -> int:
            version = client.getex(cache_version_key(owner_id), ex=CACHE_VERSION_SECONDS)
            return int(version) if version is not None else start_cache_version(client, owner_id)

        return self._state.run("cache_version", read)

    def get(self, owner_id: str, version: int, resource: str) -> CachedRepresentation | None:
        raw = self._state.run("cache_get", lambda client: client.get(_entry_key(owner_id, version, resource)))
        if not raw:
            return None
        meta, _, body = (raw if isinstance(raw, bytes) else raw.encode()).partition(b"\n")
        headers = json.loads(meta)
        return CachedRepresentation(body, headers["etag"], headers.get("link"))

    def put(self, owner_id: str, version: int, resource: str, representation: CachedRepresentation) -> None:
        meta = json.dumps({"etag": representation.etag, "link": representation.link}).encode()
        value = meta + b"\n" + representation.body
        key = _entry_key(owner_id, version, resource)
        self._state.run("cache_put", lambda client: client.set(key, value, ex=self._ttl))

    def user_data_changed(self, user_id: str) -> None:
        """Every cached answer about this user is stale now: one new label, whatever their number."""
        key = cache_version_key(user_id)
        self._state.run(
            "cache_invalidate", lambda client: client.set(key, new_cache_version(), ex=CACHE_VERSION_SECONDS)
        )
