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

from watchlist_core.state import keys

if TYPE_CHECKING:
    # The API imports this module at start (CachedRepresentation, ResponseCache); Redis's client module comes with the
    # Redis state, built by the first request that uses Redis (wiring.Services).
    from watchlist_core.state.client import RedisState, Slot

# A user's cache version is a random label, never an incremented count: when the key is gone (expired after
# an hour without requests, evicted, or Redis emptied) a new label starts, so no entry written under an earlier
# one can ever be read again. Every request keeps it alive.
CACHE_VERSION_SECONDS = 3600


def new_cache_version() -> int:
    return secrets.randbits(62) + 1


def start_cache_version(slot: Slot, user_id: str) -> int:
    """A label for a user whose key is missing; of two requests starting one at once, the first set wins."""
    key, fresh = keys.cache_version(user_id), new_cache_version()
    if slot.commands.set(key, fresh, nx=True, ex=CACHE_VERSION_SECONDS):
        return fresh
    return int(slot.commands.get(key) or fresh)


@dataclass(frozen=True)
class CachedRepresentation:
    body: bytes
    etag: str
    link: str | None = None  # a page's `Link: rel="next"`, which depends on its body


def _entry_key(owner_id: str, version: int, resource: str) -> str:
    return keys.cache_entry(owner_id, version, hashlib.sha256(resource.encode()).hexdigest()[:32])


class ResponseCache:
    def __init__(self, state: RedisState, ttl_seconds: int) -> None:
        self._state = state
        self._ttl = ttl_seconds

    def version(self, owner_id: str) -> int | None:
        """The owner's cache version; None when Redis is unavailable (then nothing is cached)."""

        key = keys.cache_version(owner_id)

        def read(slot: Slot) -> int:
            version = slot.commands.getex(key, ex=CACHE_VERSION_SECONDS)
            return int(version) if version is not None else start_cache_version(slot, owner_id)

        return self._state.run("cache_version", key, read)

    def get(self, owner_id: str, version: int, resource: str) -> CachedRepresentation | None:
        key = _entry_key(owner_id, version, resource)
        raw = self._state.run("cache_get", key, lambda slot: slot.commands.get(key))
        if not raw:
            return None
        meta, _, body = (raw if isinstance(raw, bytes) else raw.encode()).partition(b"\n")
        headers = json.loads(meta)
        return CachedRepresentation(body, headers["etag"], headers.get("link"))

    def put(self, owner_id: str, version: int, resource: str, representation: CachedRepresentation) -> None:
        meta = json.dumps({"etag": representation.etag, "link": representation.link}).encode()
        value = meta + b"\n" + representation.body
        key = _entry_key(owner_id, version, resource)
        self._state.run("cache_put", key, lambda slot: slot.commands.set(key, value, ex=self._ttl))

    def user_data_changed(self, user_id: str) -> None:
        """Every cached answer about this user is stale now: one new label, whatever their number."""
        key = keys.cache_version(user_id)
        self._state.run(
            "cache_invalidate", key, lambda slot: slot.commands.set(key, new_cache_version(), ex=CACHE_VERSION_SECONDS)
        )
