"""A small client of the Watchlist API over HTTP: problem details as exceptions, rate-limit state kept, an
expired or revoked access token renewed once with the refresh token, and writes retried once, safely.

Every write carries an Idempotency-Key. If its answer is lost (a timeout, a dropped connection) or the API is
briefly unavailable, it is sent once more with the same key: the API does it once, and answers the retry alike.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUSES = {500, 502, 503, 504}
MAX_RETRY_WAIT_SECONDS = 2


@dataclass
class Problem(Exception):
    """An RFC 9457 problem the API answered."""

    status: int
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    retry_after: int | None = None
    request_id: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


@dataclass
class RateLimit:
    policy: str
    limit: int
    remaining: int
    reset_seconds: int


@dataclass
class Session:
    """What survives Streamlit reruns (kept in st.session_state)."""

    access_token: str | None = None
    refresh_token: str | None = None
    user: dict[str, Any] | None = None
    rate_limit: RateLimit | None = None
    refreshed: int = 0  # how many times the client renewed the access token itself
    # Each account's device token from its last sign-in here: sent with the next, so that strangers' failed guesses
    # never lock this browser out (kept across sign-outs, as a device cookie is).
    device_tokens: dict[str, str] = field(default_factory=dict)


class WatchlistClient:
    def __init__(
        self, base_url: str, session: Session, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        self.session = session

    # Auth
    def register(self, email: str, password: str, display_name: str | None = None) -> dict[str, Any]:
        body = {"email": email, "password": password} | ({"display_name": display_name} if display_name else {})
        return self._json("POST", "/v1/auth/register", json=body, authenticated=False, write=True)

    def login(self, email: str, password: str) -> dict[str, Any]:
        account = email.strip().casefold()
        body = {"email": email, "password": password}
        if account in self.session.device_tokens:
            body["device_token"] = self.session.device_tokens[account]
        tokens = self._json("POST", "/v1/auth/login", json=body, authenticated=False)
        self.session.device_tokens[account] = tokens["device_token"]
        self.session.access_token = tokens["access_token"]
        self.session.refresh_token = tokens["refresh_token"]
        self.session.user = self.me()
        return self.session.user

    def logout(self) -> None:
        try:
            self._request("POST", "/v1/auth/logout", json={"refresh_token": self.session.refresh_token})
        finally:
            self.session.access_token = self.session.refresh_token = None
            self.session.user = None

    def me(self) -> dict[str, Any]:
        return self._json("GET", "/v1/auth/me")

    # Mailed links (anyone: no bearer token). Not resent on a lost answer: each link's token works once, and a
    # second forgot would only mail another link.
    def forgot_password(self, email: str) -> str:
        """Asks for a reset link to be mailed; the API's message (the same whether the address has an account)."""
        answer = self._json("POST", "/v1/auth/password/forgot", json={"email": email}, authenticated=False)
        return str(answer["message"])

    def reset_password(self, token: str, new_password: str) -> None:
        """A new password through a reset link's token: every session of the account ends, no one is signed in."""
        body = {"token": token, "new_password": new_password}
        self._request("POST", "/v1/auth/password/reset", json=body, authenticated=False)

    def confirm_email(self, token: str) -> None:
        self._request("POST", "/v1/auth/verification/confirm", json={"token": token}, authenticated=False)

    # The account
    def refresh_user(self) -> dict[str, Any]:
        """The signed-in user as the API has it now (a link used elsewhere may have verified the address)."""
        self.session.user = self.me()
        return self.session.user

    def request_verification(self) -> str:
        """Mails a link confirming the account's address; the API's message."""
        return str(self._json("POST", "/v1/auth/verification")["message"])

    def change_profile(self, display_name: str) -> dict[str, Any]:
        self.session.user = self._json("PATCH", "/v1/auth/me", json={"display_name": display_name})
        return self.session.user

    def change_email(self, email: str, current_password: str) -> dict[str, Any]:
        """The account's new address (unverified until its mailed link is used; a notice goes to the old one)."""
        body = {"email": email, "current_password": current_password}
        self.session.user = self._json("PATCH", "/v1/auth/me", json=body)
        return self.session.user

    def change_password(self, current_password: str, new_password: str) -> None:
        # Not resent on a lost answer: a second try would present a current password that is no longer current.
        body = {"current_password": current_password, "new_password": new_password}
        self._request("POST", "/v1/auth/password", json=body)

    def sessions(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._request("GET", "/v1/auth/sessions").json()
        return listed

    def end_session(self, session_id: str) -> None:
        self._request("DELETE", f"/v1/auth/sessions/{session_id}")

    def export(self) -> bytes:
        """Everything the API holds of the account, as the JSON document it sends."""
        return self._request("GET", "/v1/auth/me/export").content

    def delete_account(self, current_password: str) -> None:
        """Deletes the account and all its data; signed out afterwards. A watchlist larger than one request can delete
        answers 503 with Retry-After: asked again (with the same session, which lives until the account is gone)."""
        self._request("DELETE", "/v1/auth/me", json={"current_password": current_password})
        self.session.access_token = self.session.refresh_token = None
        self.session.user = None

    # Watchlist
    def items(self, **query: Any) -> dict[str, Any]:
        return self._json("GET", "/v1/watchlists", params={k: v for k, v in query.items() if v not in (None, "")})

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v1/watchlists/items", json=item, write=True)

    def change(self, item_id: str, changes: dict[str, Any], version: int) -> dict[str, Any]:
        headers = {"If-Match": f'"{version}"'}
        return self._json("PATCH", f"/v1/watchlists/items/{item_id}", json=changes, headers=headers, write=True)

    def delete(self, item_id: str, version: int) -> str:
        self._write("DELETE", f"/v1/watchlists/items/{item_id}", headers={"If-Match": f'"{version}"'})
        return item_id

    # Admin
    def users(self, cursor: str | None = None) -> dict[str, Any]:
        return self._json("GET", "/v1/admin/users", params={"limit": 100} | ({"cursor": cursor} if cursor else {}))

    def set_role(self, user_id: str, role: str) -> dict[str, Any]:
        return self._json("PATCH", f"/v1/admin/users/{user_id}", json={"role": role}, write=True)

    def set_active(self, user_id: str, active: bool) -> dict[str, Any]:
        return self._json("PATCH", f"/v1/admin/users/{user_id}", json={"active": active}, write=True)

    def delete_user(self, user_id: str) -> None:
        self._request("DELETE", f"/v1/admin/users/{user_id}")

    def audit(self, **query: Any) -> dict[str, Any]:
        return self._json("GET", "/v1/admin/audit", params={k: v for k, v in query.items() if v not in (None, "")})

    # Others
    def github_user(self, username: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/external/github/users/{username}")

    def health(self) -> dict[str, Any]:
        response = self._http.get("/v1/health/detailed")
        body: dict[str, Any] = response.json()
        return body

    def _json(self, method: str, path: str, *, write: bool = False, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = (self._write if write else self._request)(method, path, **kwargs).json()
        return body

    def _write(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A write under a new Idempotency-Key, sent once more with it if the first answer was lost, a server
        error, or "still in progress" (409 with Retry-After)."""
        headers = dict(kwargs.pop("headers", None) or {}) | {"Idempotency-Key": str(uuid.uuid4())}
        try:
            return self._request(method, path, headers=headers, **kwargs)
        except httpx.TransportError:
            pass
        except Problem as problem:
            if problem.status not in RETRY_STATUSES and not (problem.status == 409 and problem.retry_after):
                raise
            time.sleep(min(problem.retry_after or 1, MAX_RETRY_WAIT_SECONDS))
        return self._request(method, path, headers=headers, **kwargs)

    def _request(self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, authenticated, **kwargs)
        if response.status_code == 401 and authenticated and self.session.refresh_token and self._renew():
            response = self._send(method, path, authenticated, **kwargs)
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def _send(self, method: str, path: str, authenticated: bool, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if authenticated and self.session.access_token:
            headers["Authorization"] = f"Bearer {self.session.access_token}"
        response = self._http.request(method, path, headers=headers, **kwargs)
        if "x-ratelimit-limit" in response.headers:
            policy = response.headers.get("ratelimit-policy", "").split(";")[0].strip('"')
            self.session.rate_limit = RateLimit(
                policy,
                int(response.headers["x-ratelimit-limit"]),
                int(response.headers["x-ratelimit-remaining"]),
                int(response.headers["x-ratelimit-reset"]),
            )
        return response

    def _renew(self) -> bool:
        """Trade the refresh token for new tokens; False (and signed out) when the session has ended."""
        response = self._send("POST", "/v1/auth/refresh", False, json={"refresh_token": self.session.refresh_token})
        if response.status_code != 200:
            self.session.access_token = self.session.refresh_token = None
            self.session.user = None
            return False
        tokens = response.json()
        self.session.access_token = tokens["access_token"]
        self.session.refresh_token = tokens["refresh_token"]
        self.session.refreshed += 1
        return True


def _problem(response: httpx.Response) -> Problem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    retry_after = response.headers.get("retry-after")
    return Problem(
        status=response.status_code,
        title=body.get("title", response.reason_phrase),
        detail=body.get("detail", response.text[:200]),
        errors=body.get("errors", []),
        retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
        request_id=body.get("request_id") or response.headers.get("x-request-id"),
    )
