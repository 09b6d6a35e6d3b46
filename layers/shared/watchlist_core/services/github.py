"""GitHub user lookups: validated names, a shared cache, and GitHub asked only when the cache is stale."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from watchlist_core.errors import InvalidInputError, NotFoundError, UpstreamError
from watchlist_core.external.github import is_possible_username
from watchlist_core.external.github_profile import GitHubProfile
from watchlist_core.services.ports import GitHubUsers
from watchlist_core.state.lookups import GitHubLookups

CacheOutcome = Literal["HIT", "MISS"]
NO_SUCH_USER = "GitHub has no user by that name."


@dataclass(frozen=True)
class CachePolicy:
    fresh_seconds: int  # served from the cache without asking GitHub
    not_found_seconds: int  # a 404 remembered this long
    keep_seconds: int  # a profile and its ETag kept this long, to revalidate with If-None-Match


class GitHubProfiles:
    def __init__(self, users: GitHubUsers, lookups: GitHubLookups, policy: CachePolicy) -> None:
        self._users = users
        self._lookups = lookups
        self._policy = policy

    async def profile(self, username: str) -> tuple[GitHubProfile, CacheOutcome]:
        if not is_possible_username(username):
            raise InvalidInputError(
                "Not a possible GitHub username: 1 to 39 letters, digits or single hyphens, "
                "not starting or ending with a hyphen.",
                field=("path", "username"),
            )
        now = time.time()
        cached = self._lookups.get(username)
        if cached and cached["fresh_until"] > now:
            if cached["profile"] is None:
                raise NotFoundError(NO_SUCH_USER)
            return GitHubProfile.model_validate(cached["profile"]), "HIT"
        known = GitHubProfile.model_validate(cached["profile"]) if cached and cached["profile"] else None
        try:
            answer = await self._users.user(username, cached["etag"] if known and cached else None)
        except NotFoundError:
            self._remember(username, None, None, self._policy.not_found_seconds)
            raise
        profile = answer.profile or known
        if profile is None:
            raise UpstreamError("GitHub answered 304 to an unconditional request.")
        self._remember(username, profile, answer.etag, self._policy.fresh_seconds)
        return profile, "MISS"

    def _remember(self, username: str, profile: GitHubProfile | None, etag: str | None, fresh_seconds: int) -> None:
        self._lookups.put(
            username,
            {
                "profile": profile.model_dump() if profile else None,
                "etag": etag,
                "fresh_until": time.time() + fresh_seconds,
            },
            self._policy.keep_seconds if profile else fresh_seconds,
        )
