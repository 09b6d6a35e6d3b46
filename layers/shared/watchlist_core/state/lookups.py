"""Cached answers of third-party APIs, in Redis as JSON: shared by every instance, lost harmlessly."""

from __future__ import annotations

import json
from typing import Any

from watchlist_core.state import keys
from watchlist_core.state.client import RedisState


class GitHubLookups:
    def __init__(self, state: RedisState) -> None:
        self._state = state

    def get(self, username: str) -> dict[str, Any] | None:
        key = keys.github_user(username)
        raw = self._state.run("github_cache", key, lambda slot: slot.commands.get(key))
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    def put(self, username: str, value: dict[str, Any], keep_seconds: int) -> None:
        body = json.dumps(value, separators=(",", ":"))
        key = keys.github_user(username)
        self._state.run("github_cache", key, lambda slot: slot.commands.set(key, body, ex=keep_seconds))
