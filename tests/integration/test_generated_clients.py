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
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import ROOT
from infra.local.sqs_poller import QueuePoller
from tests.support import PASSWORD, unique_email
from watchlist_api.app import create_app
from watchlist_core import wiring

CLIENT_VENV_BIN = ROOT / ".venv-client" / "bin"
NODE_BIN = ROOT / "node_modules" / ".bin"
USAGE = Path(__file__).parent / "clients" / "usage.ts"


@pytest.fixture(scope="module")
def openapi_document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(create_app().openapi()))
    return path


@pytest.fixture(scope="module")
def generated(openapi_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package, importable; its name."""
    root = tmp_path_factory.mktemp("python-client")
    done = subprocess.run(  # noqa: S603 (our own command line)
        [CLIENT_VENV_BIN / "openapi-python-client", "generate", "--path", openapi_document, "--meta", "none",
         "--output-path", root / "watchlist_client"],
        env={**os.environ, "PATH": f"{CLIENT_VENV_BIN}{os.pathsep}{os.environ['PATH']}"},  # its ruff formats the code
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # a skipped operation or model is announced so
    sys.path.insert(0, str(root))
    yield "watchlist_client"
    sys.path.remove(str(root))
    for name in [name for name in sys.modules if name.startswith("watchlist_client")]:
        del sys.modules[name]


def operation(package: str, tag: str, name: str) -> Any:
    return importlib.import_module(f"{package}.api.{tag}.{name}")


def test_every_operation_is_generated_under_its_short_name(generated: str) -> None:
    for path in create_app().openapi()["paths"].values():
        for declared in path.values():
            module = operation(generated, declared["tags"][0], declared["operationId"])
            assert callable(module.sync_detailed)


def test_the_generated_python_client_runs_the_main_flows(generated: str, gateway: int, dynamodb: str) -> None:
    client_module = importlib.import_module(f"{generated}.client")
    models = importlib.import_module(f"{generated}.models")
    anonymous = client_module.Client(base_url=f"http://127.0.0.1:{gateway}", raise_on_unexpected_status=True)

    email = unique_email()
    user = operation(generated, "auth", "register").sync(
        client=anonymous, body=models.Registration(email=email, password=PASSWORD)
    )
    assert isinstance(user, models.User)
    assert user.email == email
    tokens = operation(generated, "auth", "login").sync(
        client=anonymous, body=models.LoginCredentials(email=email, password=PASSWORD)
    )
    assert isinstance(tokens, models.Tokens)
    assert isinstance(tokens.device_token, str)
    form_tokens = operation(generated, "auth", "token").sync(
        client=anonymous,
        body=models.TokenPasswordForm(
            grant_type=models.TokenPasswordFormGrantType.PASSWORD, username=email, password=PASSWORD
        ),
    )
    assert isinstance(form_tokens, models.Tokens)
    signed_in = client_module.AuthenticatedClient(
        base_url=f"http://127.0.0.1:{gateway}", token=tokens.access_token, raise_on_unexpected_status=True
    )

    added = operation(generated, "watchlist", "add_item").sync_detailed(
        client=signed_in, body=models.ItemDraft(title="Arrival", type_=models.ItemType.MOVIE, year=2016)
    )
    assert added.status_code == 201
    item = added.parsed
    assert isinstance(item, models.WatchlistItem)
    page = operation(generated, "watchlist", "list_items").sync(client=signed_in)
    assert isinstance(page, models.PageWatchlistItem)
    assert [listed.id for listed in page.items] == [item.id]

    changed = operation(generated, "watchlist", "change_item").sync_detailed(
        item.id,
        client=signed_in,
        body=models.ItemChanges(status=models.ItemStatus.WATCHING),
        if_match=added.headers["etag"],
    )
    assert changed.status_code == 200
    assert isinstance(changed.parsed, models.WatchlistItem)
    assert changed.parsed.status == models.ItemStatus.WATCHING
    stale = operation(generated, "watchlist", "change_item").sync_detailed(
        item.id, client=signed_in, body=models.ItemChanges(rating=9), if_match=added.headers["etag"]
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)

    deleted = operation(generated, "watchlist", "delete_item").sync_detailed(item.id, client=signed_in)
    assert deleted.status_code == 204

    admin_email = unique_email()
    wiring.get_services().auth.ensure_admin(admin_email, "admin password 1")
    admin_tokens = operation(generated, "auth", "login").sync(
        client=anonymous, body=models.LoginCredentials(email=admin_email, password="admin password 1")
    )
    admin = client_module.AuthenticatedClient(
        base_url=f"http://127.0.0.1:{gateway}", token=admin_tokens.access_token, raise_on_unexpected_status=True
    )
    listed: list[str] = []
    cursor = None
    while True:  # every page: the session's moto server holds the other tests' users too
        users = operation(generated, "admin", "list_users").sync(client=admin, limit=100, cursor=cursor)
        assert isinstance(users, models.PageUser)
        listed += [each.email for each in users.items]
        if not (cursor := users.next_cursor):
            break
    assert email in listed
    from watchlist_audit.handler import handler as audit_handler

    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=dynamodb)
    QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler).drain()
    trail = operation(generated, "admin", "audit_trail").sync(client=admin, actor_id=user.id)
    assert isinstance(trail, models.AuditPage)
    assert {event.action for event in trail.items} >= {
        models.AuditAction.USER_REGISTERED,
        models.AuditAction.ITEM_CREATED,
        models.AuditAction.ITEM_UPDATED,
        models.AuditAction.ITEM_DELETED,
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
