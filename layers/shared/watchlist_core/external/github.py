"""The GitHub REST API's user endpoint, called so that GitHub's troubles cannot become ours.

- One `httpx.AsyncClient` per event loop, kept across warm invocations (keep-alive); a client whose loop
  has gone is replaced, never reused (its connections belong to the dead loop).
- Connect and read timeouts, and one deadline for the whole call, retries included.
- Retries (stamina: exponential back-off with jitter) only for what is safe and may pass: connect errors,
  timeouts, 502, 503, 504; bounded in attempts and by the deadline.
- A circuit breaker per instance: after repeated failures GitHub is not called for a while, and a rate
  limit holds it open until GitHub's reset.
- Conditional requests: the caller passes the ETag it keeps, and a 304 costs no GitHub quota.

httpx and stamina are imported on the first call: an instance that never calls GitHub does not pay for them.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from watchlist_core import tracing
from watchlist_core.errors import DependencyUnavailableError, NotFoundError, UpstreamError, UpstreamTimeoutError
from watchlist_core.external.breaker import CircuitBreaker
from watchlist_core.external.github_profile import GitHubProfile
from watchlist_core.observability import logger
from watchlist_core.settings import Settings

if TYPE_CHECKING:
    import httpx

# GitHub's own rule: 1 to 39 letters, digits or single hyphens, neither first nor last.
_USERNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_RETRYABLE_STATUSES = {502, 503, 504}
_MAX_RETRY_AFTER_SECONDS = 3600
API_VERSION = "2022-11-28"


def is_possible_username(username: str) -> bool:
    return bool(_USERNAME.match(username))


@dataclass(frozen=True)
class UserAnswer:
    """GitHub's answer: a profile and its ETag, or `profile` None for 304 (the caller's copy is current)."""

    profile: GitHubProfile | None
    etag: str | None


class _TransientStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"GitHub answered {status}")
        self.status = status


def _retryable(error: Exception) -> bool:
    import httpx

    return isinstance(error, _TransientStatus | httpx.TimeoutException | httpx.NetworkError)


def _retry_after(response: httpx.Response) -> int | None:
    """Seconds until GitHub accepts us again, when the response is a rate limit; else None."""
    headers = response.headers
    limited = response.status_code == 429 or (
        response.status_code == 403 and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers)
    )
    if not limited:
        return None
    seconds = 60.0  # GitHub's advice when it says nothing more
    if headers.get("retry-after", "").isdigit():
        seconds = float(headers["retry-after"])
    elif headers.get("x-ratelimit-reset", "").isdigit():
        seconds = float(headers["x-ratelimit-reset"]) - time.time()
    return min(_MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(seconds)))


class GitHubClient:
    def __init__(self, settings: Settings, token: Callable[[], str | None]) -> None:
        self._settings = settings
        self._token = token
        self._breaker = CircuitBreaker(settings.github_breaker_failures, settings.github_breaker_open_seconds)
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    async def user(self, username: str, etag: str | None = None) -> UserAnswer:
        """The user's profile; NotFoundError, UpstreamError (502), UpstreamTimeoutError (504), or
        DependencyUnavailableError (503, with Retry-After) when GitHub limits us or the breaker is open."""
        wait = self._breaker.seconds_open()
        if wait:
            raise DependencyUnavailableError(
                "GitHub is unavailable or limiting us; not calling it for now.", retry_after_seconds=math.ceil(wait)
            )
        try:
            async with asyncio.timeout(self._settings.github_deadline_seconds):
                response = await self._get_with_retries(f"/users/{username}", etag)
        except Exception as error:
            failure = self._failure(error)
            if failure is None:
                raise
            raise failure from error
        return self._read(response)

    def _failure(self, error: Exception) -> Exception | None:
        """The domain error for a failed call (counted by the breaker), or None for an unexpected error."""
        import httpx

        if not isinstance(error, TimeoutError | _TransientStatus | httpx.TransportError):
            return None
        self._breaker.failed()
        logger.warning("github call failed", extra={"error_class": type(error).__name__})
        if isinstance(error, TimeoutError | httpx.TimeoutException):
            return UpstreamTimeoutError("GitHub did not answer in time.")
        if isinstance(error, _TransientStatus):
            return UpstreamError(f"GitHub is failing ({error.status}).")
        return UpstreamError("GitHub could not be reached.")

    async def _get_with_retries(self, path: str, etag: str | None) -> httpx.Response:
        import stamina

        headers = {"If-None-Match": etag} if etag else {}
        async for attempt in stamina.retry_context(
            on=_retryable,
            attempts=self._settings.github_attempts,
            timeout=self._settings.github_deadline_seconds,
            wait_initial=0.1,
            wait_max=1.0,
            wait_jitter=0.1,
        ):
            with attempt:
                with tracing.span("github GET /users/{username}", **{"server.address": self._settings.github_api_url}):
                    response = await self._client().get(path, headers=headers)
                if response.status_code in _RETRYABLE_STATUSES:
                    raise _TransientStatus(response.status_code)
        return response

    def _read(self, response: httpx.Response) -> UserAnswer:
        retry_after = _retry_after(response)
        if retry_after is not None:
            self._breaker.hold_open(retry_after)
            raise DependencyUnavailableError("GitHub is rate-limiting us.", retry_after_seconds=retry_after)
        if response.status_code == 404:
            self._breaker.succeeded()
            raise NotFoundError("GitHub has no user by that name.")
        if response.status_code == 304:
            self._breaker.succeeded()
            return UserAnswer(profile=None, etag=response.headers.get("etag"))
        if response.status_code != 200:
            self._breaker.failed()
            raise UpstreamError(f"GitHub answered {response.status_code}.")
        try:
            profile = GitHubProfile.model_validate_json(response.content)
        except ValidationError as error:
            self._breaker.failed()
            raise UpstreamError("GitHub's answer was not a user profile.") from error
        self._breaker.succeeded()
        return UserAnswer(profile=profile, etag=response.headers.get("etag"))

    def _client(self) -> httpx.AsyncClient:
        """This event loop's client: created on first use, and again if the loop it belonged to is gone."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            import httpx

            settings = self._settings
            headers = {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "watchlist-api",
            }
            token = self._token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            self._http = httpx.AsyncClient(
                base_url=settings.github_api_url,
                headers=headers,
                timeout=httpx.Timeout(
                    settings.github_read_timeout_seconds, connect=settings.github_connect_timeout_seconds
                ),
                limits=httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=60),
            )
            self._http_loop = loop
        return self._http
