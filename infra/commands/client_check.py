"""`make client-check URL=...`: the Python client a user would generate from the deployed API's own document
(`URL/openapi.json`, by openapi-python-client from .venv-client), run through a throwaway user's main flow against
that API, every answer parsed into its documented model. One line per step, a summary; exit code 1 on any failure.

python -m infra.commands.client_check URL    (after `make .venv-client/.installed`; the Makefile does it)

The flow (`run_flow`) is also what tests/integration/test_generated_clients.py runs against the in-process gateway.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra import ROOT
from watchlist_hooks.smoke import Step

CLIENT_VENV_BIN = ROOT / ".venv-client" / "bin"
PACKAGE = "watchlist_client"
REQUEST_SECONDS = 10.0  # one request's longest wait (a cold start of the API on Lambda is within it)
STEPS = (
    "register",
    "login",
    "token (form)",
    "add item",
    "list items",
    "change item",
    "stale change",
    "delete item",
    "delete account",
)


class GenerationFailed(Exception):
    """openapi-python-client failed, or warned (a skipped operation or model is announced so); its output."""


def generate(document: Path, root: Path, package: str = PACKAGE) -> str:
    """openapi-python-client's package for `document`, written to `root/package` (importable with `root` on
    sys.path); its name. Run as a user runs it, with .venv-client's ruff on the PATH to format the code."""
    try:
        done = subprocess.run(  # noqa: S603 (our own command line)
            [CLIENT_VENV_BIN / "openapi-python-client", "generate", "--path", document, "--meta", "none",
             "--output-path", root / package],
            env={**os.environ, "PATH": f"{CLIENT_VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
    except FileNotFoundError as missing:
        raise GenerationFailed(f"{missing.filename} is missing: run `make .venv-client/.installed`") from missing
    if done.returncode != 0 or "Warning" in done.stdout:
        raise GenerationFailed(done.stdout + done.stderr)
    return package


@contextmanager
def importable(root: Path, package: str) -> Iterator[str]:
    """The generated package under `root` importable meanwhile; forgotten afterwards (its modules too)."""
    sys.path.insert(0, str(root))
    try:
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
            del sys.modules[name]


def operation(package: str, tag: str, name: str) -> Any:
    """The generated module of an operation: `package.api.<tag>.<operationId>`."""
    return importlib.import_module(f"{package}.api.{tag}.{name}")


def throwaway_email() -> str:
    """A new address at SES's mailbox simulator (see watchlist_hooks.smoke.throwaway_email for why)."""
    return f"success+client-{uuid.uuid4().hex[:16]}@simulator.amazonses.com"


@dataclass
class FlowResult:
    base_url: str
    email: str
    user_id: str | None = None  # set once registered
    steps: list[Step] = field(default_factory=list)
    cleanup: str = ""  # what the cleanup after a failure did ("" when none was needed)

    @property
    def passed(self) -> bool:
        return [step.name for step in self.steps] == list(STEPS) and all(step.passed for step in self.steps)

    def summary(self) -> str:
        failed = next((step for step in self.steps if not step.passed), None)
        if self.passed:
            verdict = f"passed ({len(self.steps)} steps)"
        else:
            verdict = f"FAILED at '{failed.name}': {failed.detail}" if failed else "FAILED"
        line = f"client-check against {self.base_url} ({self.email}): {verdict}"
        return line + (f"; cleanup: {self.cleanup}" if self.cleanup else "")


class StepFailed(Exception):
    """A step's check failed; the message says why (the status, a problem's title and detail: no secrets)."""


def _problem_text(status: int, parsed: Any) -> str:
    """`HTTP <status>`, and a problem's title and detail (a generated Problem, or its JSON as a dict)."""
    title, detail = (
        (parsed.get("title"), parsed.get("detail"))
        if isinstance(parsed, dict)
        else (getattr(parsed, "title", None), getattr(parsed, "detail", None))
    )
    parts = [str(part)[:200] for part in (title, detail) if isinstance(part, str)]
    return f"HTTP {status}" + (": " + "; ".join(parts) if parts else "")


def _failure_text(error: Exception) -> str:
    """Why a step failed, without echoing a body that may hold tokens."""
    if isinstance(error, StepFailed):
        return str(error)
    if isinstance(error, httpx.HTTPError):
        return f"no answer ({type(error).__name__})"
    status = getattr(error, "status_code", None)  # the generated errors.UnexpectedStatus
    if isinstance(status, int):
        try:
            problem = json.loads(getattr(error, "content", b""))
        except ValueError:
            problem = {}
        return "undocumented " + _problem_text(status, problem)
    return f"{type(error).__name__}: {str(error)[:200]}"  # an answer that does not parse into its model


class _Flow:
    def __init__(self, package: str, result: FlowResult, on_step: Callable[[Step], None]) -> None:
        self.package = package
        self.result = result
        self.on_step = on_step
        self.client = importlib.import_module(f"{package}.client")
        self.models = importlib.import_module(f"{package}.models")
        self.password = secrets.token_urlsafe(24)
        self.anonymous = self.client.Client(
            base_url=result.base_url.rstrip("/"),
            raise_on_unexpected_status=True,
            timeout=httpx.Timeout(REQUEST_SECONDS),
        )
        self.signed_in: Any = None
        self.deleted = False

    def call(self, tag: str, name: str, *, anonymous: bool = False, **arguments: Any) -> Any:
        """The operation's detailed response (status, headers, the answer parsed into its documented model), sent
        with the user's token unless `anonymous`."""
        client = self.anonymous if anonymous else self.signed_in
        return operation(self.package, tag, name).sync_detailed(client=client, **arguments)

    def expect(self, response: Any, status: int, model: Any) -> Any:
        if response.status_code != status or not isinstance(response.parsed, model):
            raise StepFailed(
                f"expected {status} {model.__name__}, got {_problem_text(response.status_code, response.parsed)}"
            )
        return response.parsed

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as error:  # any failure is the step's: reported, and it ends the flow
            self._record(Step(name, False, time.perf_counter() - started, _failure_text(error)))
            raise StepFailed(name) from error
        self._record(Step(name, True, time.perf_counter() - started))

    def _record(self, step: Step) -> None:
        self.result.steps.append(step)
        self.on_step(step)

    def sign_in(self) -> Any:
        m = self.models
        tokens = self.expect(
            self.call(
                "auth",
                "login",
                anonymous=True,
                body=m.LoginCredentials(email=self.result.email, password=self.password),
            ),
            200,
            m.Tokens,
        )
        if not (isinstance(tokens.access_token, str) and tokens.access_token):
            raise StepFailed("no access_token in the answer")
        return tokens

    def use_token(self, access_token: str) -> None:
        if self.signed_in is not None:
            _close(self.signed_in)
        self.signed_in = self.client.AuthenticatedClient(
            base_url=self.result.base_url.rstrip("/"),
            token=access_token,
            raise_on_unexpected_status=True,
            timeout=httpx.Timeout(REQUEST_SECONDS),
        )

    def run(self, before_account_deletion: Callable[[FlowResult], None] | None) -> None:
        m, email = self.models, self.result.email
        with self.step("register"):
            user = self.expect(
                self.call("auth", "register", anonymous=True, body=m.Registration(email=email, password=self.password)),
                201,
                m.User,
            )
            if user.email != email or not user.id:
                raise StepFailed("the answer holds another address, or no id")
            self.result.user_id = user.id
        with self.step("login"):
            tokens = self.sign_in()
            if not isinstance(tokens.device_token, str):
                raise StepFailed("no device_token in the answer")
        with self.step("token (form)"):
            form = m.TokenPasswordForm(
                grant_type=m.TokenPasswordFormGrantType.PASSWORD, username=email, password=self.password
            )
            self.expect(self.call("auth", "token", anonymous=True, body=form), 200, m.Tokens)
        self.use_token(tokens.access_token)
        with self.step("add item"):
            added = self.call(
                "watchlist", "add_item", body=m.ItemDraft(title="Arrival", type_=m.ItemType.MOVIE, year=2016)
            )
            item = self.expect(added, 201, m.WatchlistItem)
            etag = added.headers.get("etag")
            if not etag:
                raise StepFailed("no ETag header")
        with self.step("list items"):
            page = self.expect(self.call("watchlist", "list_items"), 200, m.PageWatchlistItem)
            if [listed.id for listed in page.items] != [item.id]:
                raise StepFailed(f"the list holds {len(page.items)} items, not exactly the one added")
        with self.step("change item"):
            changes = m.ItemChanges(status=m.ItemStatus.WATCHING)
            changed = self.call("watchlist", "change_item", item_id=item.id, body=changes, if_match=etag)
            if self.expect(changed, 200, m.WatchlistItem).status != m.ItemStatus.WATCHING:
                raise StepFailed("the status did not change")
            new_etag = changed.headers.get("etag")
            if not new_etag or new_etag == etag:
                raise StepFailed("the ETag did not change with the item")
        with self.step("stale change"):
            stale = self.call("watchlist", "change_item", item_id=item.id, body=m.ItemChanges(rating=9), if_match=etag)
            self.expect(stale, 412, m.Problem)
        with self.step("delete item"):
            deleted = self.call("watchlist", "delete_item", item_id=item.id, if_match=new_etag)
            if deleted.status_code != 204:
                raise StepFailed(f"expected 204, got {_problem_text(deleted.status_code, deleted.parsed)}")
        if before_account_deletion is not None:
            before_account_deletion(self.result)
        with self.step("delete account"):
            self.delete_account()
            self.expect(self.call("auth", "me"), 401, m.Problem)  # its session ended with it

    def delete_account(self) -> None:
        response = self.call("auth", "delete_account", body=self.models.AccountDeletion(current_password=self.password))
        if response.status_code != 204:
            raise StepFailed(f"expected 204, got {_problem_text(response.status_code, response.parsed)}")
        self.deleted = True

    def clean_up(self) -> str:
        """After a failure: the account deleted if it was made (signing in first if no token was had yet)."""
        if self.result.user_id is None or self.deleted:
            return ""
        try:
            if self.signed_in is None:
                self.use_token(self.sign_in().access_token)
            self.delete_account()
        except Exception as error:  # noqa: BLE001 (reported: the account is left for an admin)
            return (
                f"the account {self.result.email} could not be deleted ({_failure_text(error)}); delete it as an admin"
            )
        return "the account was deleted"


def run_flow(
    package: str,
    base_url: str,
    *,
    on_step: Callable[[Step], None] = lambda step: None,
    before_account_deletion: Callable[[FlowResult], None] | None = None,
) -> FlowResult:
    """A throwaway user's main flow through the generated client `package` (importable) against `base_url` (a stage
    URL such as `https://.../Prod/` is fine): register, sign in by `login` and by the OAuth2 `token` form, add an
    item, list it, change it with `If-Match` (200) and again with the stale ETag (412, a Problem), delete it (204),
    delete the account (204; its token then refused). Every answer parsed into its documented model; the first
    failed step ends the flow, and the account is deleted all the same. `on_step` is called after each step;
    `before_account_deletion` (an exception of its own propagates, once the account is deleted) while the account
    exists, all else done."""
    result = FlowResult(base_url, throwaway_email())
    flow = _Flow(package, result, on_step)
    try:
        flow.run(before_account_deletion)
    except StepFailed:
        pass  # recorded by the step
    finally:
        try:
            result.cleanup = flow.clean_up()
        finally:
            for client in (flow.anonymous, flow.signed_in):
                if client is not None:
                    _close(client)
    return result


def _close(client: Any) -> None:
    """A generated client's httpx.Client and its kept-alive connections (the generated class closes them on exit)."""
    client.__exit__(None, None, None)


def fetch_document(base_url: str, into: Path) -> Path:
    """The API's own OpenAPI document (`base_url/openapi.json`), saved as `into/openapi.json`."""
    answer = httpx.get(f"{base_url.rstrip('/')}/openapi.json", timeout=REQUEST_SECONDS, follow_redirects=False)
    answer.raise_for_status()
    path = into / "openapi.json"
    path.write_text(json.dumps(answer.json()))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make client-check", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", help="the API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/")
    url = parser.parse_args(argv).url

    def report(step: Step) -> None:
        print("  " + step.line(), flush=True)

    with tempfile.TemporaryDirectory(prefix="client-check-") as temporary:
        root = Path(temporary)
        started = time.perf_counter()
        try:
            # A name of its own: never one of an already imported generated client (a test's, in the same process).
            package = generate(fetch_document(url, root), root, "watchlist_client_check")
        except (httpx.HTTPError, ValueError, GenerationFailed) as error:
            why = str(error) if isinstance(error, GenerationFailed) else _failure_text(error)
            report(Step("generate client", False, time.perf_counter() - started, why))
            print(f"client-check against {url}: FAILED at 'generate client'", flush=True)
            return 1
        report(Step("generate client", True, time.perf_counter() - started))
        with importable(root, package):
            result = run_flow(package, url, on_step=report)
    print(result.summary(), flush=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
