"""The smoke flow: one throwaway user's whole life against a deployed (or local) API over HTTP.

register, sign in, add an item, list it, change it (If-Match), delete it (If-Match), delete the account (with the
current password). Each step checks the status and the essential body and headers, and a failure names its step
and why, without a token or password in the message. Whatever fails midway, the account is deleted if it was made.

It is light on the API's rate limits, so that it passes on a busy stage: one registration and one sign-in per run
(each limited per client address), the rest under the per-user limits; a 429 or 503 with a short `Retry-After` is
waited out and sent again (writes carry an `Idempotency-Key`, so a retried one happens once).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_SECONDS = 10.0  # one request's longest wait (a cold start of the API on Lambda is within it)
LONGEST_RETRY_AFTER_SECONDS = 5.0  # a 429 or 503 asking for a longer wait fails the step instead
RETRIES = 2
CLEANUP_SECONDS = 5.0  # kept back from the deadline for deleting the account after a failure
STEPS = ("register", "sign in", "add item", "list items", "change item", "delete item", "delete account")


def throwaway_email() -> str:
    """A new address at SES's mailbox simulator. Registration mails a verification link (in AWS, through SES); the
    simulator's `success` address accepts it as delivered, without a bounce, a complaint or a cost to the sender's
    reputation, and is allowed while the account is in the SES sandbox. The label after `+` keeps it unique."""
    return f"success+smoke-{uuid.uuid4().hex[:16]}@simulator.amazonses.com"


@dataclass(frozen=True)
class Step:
    name: str
    passed: bool
    seconds: float
    detail: str = ""  # why it failed; never a secret

    def line(self) -> str:
        return (
            f"{'ok  ' if self.passed else 'FAIL'} {self.name:<15} {self.seconds * 1000:7.0f} ms  {self.detail}".rstrip()
        )


@dataclass
class SmokeReport:
    base_url: str
    email: str
    steps: list[Step] = field(default_factory=list)
    cleanup: str = ""  # what the cleanup after a failure did ("" when none was needed)

    @property
    def passed(self) -> bool:
        return len(self.steps) == len(STEPS) and all(step.passed for step in self.steps)

    @property
    def failed_step(self) -> Step | None:
        return next((step for step in self.steps if not step.passed), None)

    def summary(self) -> str:
        failed = self.failed_step
        verdict = "passed" if self.passed else f"FAILED at '{failed.name}': {failed.detail}" if failed else "FAILED"
        lines = [f"smoke flow against {self.base_url} ({self.email}): {verdict}"]
        lines += ["  " + step.line() for step in self.steps]
        if self.cleanup:
            lines.append(f"  cleanup: {self.cleanup}")
        return "\n".join(lines)


class StepFailed(Exception):
    """A step's check failed; the message says why (status, the problem's title and detail: no secrets)."""


def _problem(response: httpx.Response) -> str:
    """What an unexpected answer was, without echoing a body that may hold tokens: an RFC 9457 problem's title and
    detail only."""
    summary = f"HTTP {response.status_code}"
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            problem = response.json()
        except ValueError:
            return summary
        parts = [str(problem[key])[:200] for key in ("title", "detail") if isinstance(problem.get(key), str)]
        summary += ": " + "; ".join(parts) if parts else ""
    return summary


class _Session:
    """Requests against the base URL within a deadline (monotonic seconds), retrying short `Retry-After` waits."""

    def __init__(self, client: httpx.Client, base_url: str, deadline: float | None) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.deadline = deadline

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def call(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        json: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if method in ("POST", "PATCH", "DELETE"):
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))  # a retry below happens once
        for attempt in range(RETRIES + 1):
            timeout = min(REQUEST_SECONDS, self.remaining())
            if timeout <= 0:
                raise StepFailed("out of time before the request was sent")
            try:
                response = self.client.request(method, self.base + path, json=json, headers=sent, timeout=timeout)
            except httpx.HTTPError as error:
                raise StepFailed(f"{method} {path}: no answer ({type(error).__name__})") from error
            wait = _retry_after(response)
            waitable = wait is not None and wait <= LONGEST_RETRY_AFTER_SECONDS and wait < self.remaining()
            if response.status_code in (429, 503) and attempt < RETRIES and wait is not None and waitable:
                time.sleep(wait)
                continue
            break
        if response.status_code != expect:
            raise StepFailed(f"{method} {path}: expected {expect}, got {_problem(response)}")
        return response


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise StepFailed(f"the answer is not JSON ({response.headers.get('content-type')})") from error
    if not isinstance(body, dict):
        raise StepFailed("the answer is not a JSON object")
    return body


def _check(condition: bool, why: str) -> None:
    if not condition:
        raise StepFailed(why)


class _Flow:
    def __init__(self, session: _Session, report: SmokeReport, on_step: Callable[[Step], None]) -> None:
        self.session = session
        self.report = report
        self.on_step = on_step
        self.password = secrets.token_urlsafe(24)
        self.user_id: str | None = None  # the account exists once set
        self.token: str | None = None
        self.deleted = False

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except StepFailed as failure:
            self._record(Step(name, False, time.perf_counter() - started, str(failure)))
            raise
        self._record(Step(name, True, time.perf_counter() - started))

    def _record(self, step: Step) -> None:
        self.report.steps.append(step)
        self.on_step(step)

    def run(self) -> None:
        s, email = self.session, self.report.email
        with self.step("register"):
            body = _json(s.call("POST", "/v1/auth/register", 201, json={"email": email, "password": self.password}))
            self.user_id = body.get("id")
            _check(isinstance(self.user_id, str) and bool(self.user_id), "no user id in the answer")
            _check(body.get("email") == email, "the answer holds another e-mail address")
            _check(body.get("role") == "user", f"role {body.get('role')!r}, not 'user'")
            _check("password" not in body and "password_hash" not in body, "the answer holds the password")
        with self.step("sign in"):
            body = _json(s.call("POST", "/v1/auth/login", 200, json={"email": email, "password": self.password}))
            token = body.get("access_token")
            _check(isinstance(token, str) and bool(token), "no access_token in the answer")
            _check(str(body.get("token_type", "")).lower() == "bearer", "token_type is not bearer")
            self.token = token
        title = f"Smoke test {uuid.uuid4().hex[:8]}"
        with self.step("add item"):
            added = s.call(
                "POST", "/v1/watchlists/items", 201, token=self.token, json={"title": title, "type": "movie"}
            )
            item = _json(added)
            item_id, etag = item.get("id"), added.headers.get("etag")
            _check(isinstance(item_id, str) and bool(item_id), "no item id in the answer")
            _check(item.get("title") == title, "the item's title differs from the one sent")
            _check(bool(etag), "no ETag header")
            _check(
                added.headers.get("location", "").endswith(f"/v1/watchlists/items/{item_id}"),
                f"Location {added.headers.get('location')!r} does not name the item",
            )
        with self.step("list items"):
            listed = _json(s.call("GET", "/v1/watchlists", 200, token=self.token))
            ids = [entry.get("id") for entry in listed.get("items", [])]
            _check(ids == [item_id], f"the list holds {len(ids)} items, not exactly the one added")
        with self.step("change item"):
            changed = s.call(
                "PATCH",
                f"/v1/watchlists/items/{item_id}",
                200,
                token=self.token,
                json={"status": "watching"},
                headers={"If-Match": str(etag)},
            )
            _check(_json(changed).get("status") == "watching", "the status did not change")
            new_etag = changed.headers.get("etag")
            _check(bool(new_etag) and new_etag != etag, "the ETag did not change with the item")
        with self.step("delete item"):
            s.call(
                "DELETE", f"/v1/watchlists/items/{item_id}", 204, token=self.token, headers={"If-Match": str(new_etag)}
            )
            s.call("GET", f"/v1/watchlists/items/{item_id}", 404, token=self.token)
        with self.step("delete account"):
            self._delete_account()
            s.call("GET", "/v1/auth/me", 401, token=self.token)  # its session ended with it

    def _delete_account(self) -> None:
        self.session.call("DELETE", "/v1/auth/me", 204, token=self.token, json={"current_password": self.password})
        self.deleted = True

    def clean_up(self) -> str:
        """After a failure: the account deleted if it was made (signing in again if no token was had yet)."""
        if self.user_id is None or self.deleted:
            return ""
        self.session.deadline = None if self.session.deadline is None else self.session.deadline + CLEANUP_SECONDS
        try:
            if self.token is None:
                body = _json(
                    self.session.call(
                        "POST", "/v1/auth/login", 200, json={"email": self.report.email, "password": self.password}
                    )
                )
                self.token = str(body["access_token"])
            self._delete_account()
        except (StepFailed, KeyError) as failure:
            return f"the account {self.report.email} could not be deleted ({failure}); delete it as an admin"
        return "the account was deleted"


def run_smoke(
    base_url: str,
    *,
    deadline: float | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
    client: httpx.Client | None = None,
) -> SmokeReport:
    """The smoke flow against `base_url` (a stage URL: `https://.../Prod/`); its report. `deadline`
    (`time.monotonic()` seconds): the steps stop by `deadline - CLEANUP_SECONDS`, the cleanup by `deadline`.
    `on_step` is called after each step."""
    report = SmokeReport(base_url, throwaway_email())
    owned = client is None
    http = client or httpx.Client(follow_redirects=False, headers={"User-Agent": "watchlist-smoke"})
    steps_deadline = None if deadline is None else deadline - CLEANUP_SECONDS
    flow = _Flow(_Session(http, base_url, steps_deadline), report, on_step)
    try:
        flow.run()
    except StepFailed:
        pass  # recorded by the step
    finally:
        try:
            report.cleanup = flow.clean_up()
        finally:
            if owned:
                http.close()
    return report
