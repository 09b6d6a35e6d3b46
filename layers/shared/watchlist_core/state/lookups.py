"""Cached answers of third-party APIs, in Redis as JSON: shared by every instance, lost harmlessly."""

from __future__ import annotations

import json
from typing import Any

from watchlist_core.state.client import KEY_PREFIX, RedisState


class GitHubLookups:
    def __init__(self, state: RedisState) -> None:
        self._state = state

    @staticmethod
    def _key(username: str) -> str:
        return f"{KEY_PREFIX}{{gh:{username.lower()}}}:user"  # GitHub usernames are case-insensitive

    def get(self, username: str) -> dict[str, Any] | None:
        raw = self._state.run("github_cache", lambda client: client.get(self._key(username)))
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    def put(self, username: str, value: dict[str, Any], keep_seconds: int) -> None:
        body = json.dumps(value, separators=(",", ":"))
        self._state.run("github_cache", lambda client: client.set(self._key(username), body, ex=keep_seconds))
