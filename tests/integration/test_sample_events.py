"""Every sample API event in events/api runs through the handler and answers the status in its file name.
(The audit and relay samples are tested in test_audit.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.commands.sample_events import handler_for, load_event, placeholder_values
from infra.local.events import LambdaContext
from tests.support import assert_expected_outcome

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events" / "api").rglob("*.json"))


def test_there_are_sample_events_for_every_endpoint_group() -> None:
    groups = {path.parent.name for path in EVENTS}
    assert {"health", "docs", "auth", "watchlists", "admin", "external"} <= groups
    assert {path.name for path in (ROOT / "events").iterdir()} == {"api", "audit", "relay"}


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_sample_event_gets_its_expected_answer(handler, path: Path) -> None:  # type: ignore[no-untyped-def]
    event = load_event(path, placeholder_values())
    assert "{{" not in json.dumps(event)
    assert handler_for(path) is handler
    assert_expected_outcome(path, event, handler(event, LambdaContext()))


def test_make_invoke_prints_the_lambda_response(moto_server) -> None:  # type: ignore[no-untyped-def]
    env = os.environ | {"DYNAMODB_ENDPOINT_URL": moto_server.endpoint_url}
    event = ROOT / "events/api/watchlists/get-item__200.json"
    command = [sys.executable, "-m", "infra.commands.invoke", str(event)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[result.stdout.index('{\n  "statusCode"') :])
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["title"] == "Arrival"
