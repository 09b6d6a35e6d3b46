"""Clients generated from the OpenAPI document, as the API's users make them: a Python client by
openapi-python-client (pinned in requirements-client.txt), which runs the main flows against the API over HTTP,
every answer parsed into its documented model; and TypeScript types by openapi-typescript, compiled with
`tsc --strict` against code that uses them (tests/integration/clients/usage.ts)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra import ROOT
from infra.commands.client_check import STEPS, FlowResult, generate, importable, operation, run_flow
from infra.local.sqs_poller import QueuePoller
from tests.support import unique_email
from watchlist_api.app import create_app
from watchlist_core import wiring

NODE_BIN = ROOT / "node_modules" / ".bin"
USAGE = Path(__file__).parent / "clients" / "usage.ts"


@pytest.fixture(scope="module")
def openapi_document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(create_app().openapi()))
    return path


@pytest.fixture(scope="module")
def generated(openapi_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package, importable; its name (generated as `make client-check` does; a warning, a skipped
    operation or model, fails it)."""
    root = tmp_path_factory.mktemp("python-client")
    with importable(root, generate(openapi_document, root)) as package:
        yield package


def test_every_operation_is_generated_under_its_short_name(generated: str) -> None:
    for path in create_app().openapi()["paths"].values():
        for declared in path.values():
            module = operation(generated, declared["tags"][0], declared["operationId"])
            assert callable(module.sync_detailed)


def test_the_generated_python_client_runs_the_main_flows(generated: str, gateway: int, dynamodb: str) -> None:
    """A user's flow as `make client-check` runs it (infra/commands/client_check.py), then an admin's view of it."""
    client_module = importlib.import_module(f"{generated}.client")
    models = importlib.import_module(f"{generated}.models")
    base_url = f"http://127.0.0.1:{gateway}"
    anonymous = client_module.Client(base_url=base_url, raise_on_unexpected_status=True)
    admin_email = unique_email()
    wiring.get_services().auth.ensure_admin(admin_email, "admin password 1")
    admin_tokens = operation(generated, "auth", "login").sync(
        client=anonymous, body=models.LoginCredentials(email=admin_email, password="admin password 1")
    )
    admin = client_module.AuthenticatedClient(
        base_url=base_url, token=admin_tokens.access_token, raise_on_unexpected_status=True
    )

    def listed_users() -> list[str]:
        listed: list[str] = []
        cursor = None
        while True:  # every page: the session's moto server holds the other tests' users too
            users = operation(generated, "admin", "list_users").sync(client=admin, limit=100, cursor=cursor)
            assert isinstance(users, models.PageUser)
            listed += [each.email for each in users.items]
            if not (cursor := users.next_cursor):
                return listed

    def while_the_account_exists(flow: FlowResult) -> None:
        assert flow.email in listed_users()

    result = run_flow(generated, base_url, before_account_deletion=while_the_account_exists)
    assert result.passed, result.summary() + "\n" + "\n".join(step.line() for step in result.steps)
    assert [step.name for step in result.steps] == list(STEPS)
    assert result.cleanup == ""
    assert result.email not in listed_users()

    from watchlist_audit.handler import handler as audit_handler

    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=dynamodb)
    QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler).drain()
    trail = operation(generated, "admin", "audit_trail").sync(client=admin, actor_id=result.user_id)
    assert isinstance(trail, models.AuditPage)
    assert {event.action for event in trail.items} >= {
        models.AuditAction.USER_REGISTERED,
        models.AuditAction.ITEM_CREATED,
        models.AuditAction.ITEM_UPDATED,
        models.AuditAction.ITEM_DELETED,
        models.AuditAction.ACCOUNT_DELETED,
    }


def test_the_typescript_types_compile_strictly_and_type_the_operations(openapi_document: Path, tmp_path: Path) -> None:
    types = tmp_path / "watchlist.d.ts"
    subprocess.run(  # noqa: S603 (our own command line)
        # Fields with a default stay optional, as they are to send (the tool's default makes them required).
        [NODE_BIN / "openapi-typescript", openapi_document, "--output", types, "--default-non-nullable", "false"],
        check=True,
        capture_output=True,
    )
    shutil.copy(USAGE, tmp_path / "usage.ts")
    compile_strictly: list[str | Path] = [
        NODE_BIN / "tsc",
        "--strict",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "es2022",
        # As a bundler resolves imports: the type packages Node tools put in node_modules/@types (which tsc reads
        # unasked) import their dependencies by package name, which the default for es2022 cannot resolve.
        "--moduleResolution",
        "bundler",
    ]
    compiled = subprocess.run(  # noqa: S603 (our own command line)
        [*compile_strictly, tmp_path / "usage.ts"], capture_output=True, text=True, check=False
    )
    assert compiled.returncode == 0, compiled.stdout
    # The check can fail: a body of the wrong shape is refused.
    (tmp_path / "usage.ts").write_text(USAGE.read_text().replace('password: "correct horse"', "password: 42"))
    refused = subprocess.run(  # noqa: S603 (our own command line)
        [*compile_strictly, tmp_path / "usage.ts"], capture_output=True, text=True, check=False
    )
    password_line = next(
        number for number, line in enumerate(USAGE.read_text().splitlines(), 1) if "correct horse" in line
    )
    assert refused.returncode != 0
    assert f"usage.ts({password_line}," in refused.stdout
    assert "not assignable to type 'string'" in refused.stdout
