"""Every sample API event in events/api runs through the handler and answers the status in its file name; every
sample mail event in events/mail gets the outcome in its file name from the mail function, its mail in the local
mailbox. (The audit and relay samples are tested in test_audit.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.commands.sample_events import handler_for, load_event, placeholder_values
from infra.local.events import LambdaContext
from tests.integration.conftest import MailFlow
from tests.support import assert_expected_outcome

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events" / "api").rglob("*.json"))
MAIL_EVENTS = sorted((ROOT / "events" / "mail").rglob("*.json"))
# What each kind of mail request becomes in the mailbox: the start of its subject.
MAIL_SUBJECTS = {
    "password_reset": "Reset your Watchlist password",
    "email_verification": "Confirm your e-mail address for Watchlist",
    "notice": "Your Watchlist ",
}


def test_there_are_sample_events_for_every_endpoint_group() -> None:
    groups = {path.parent.name for path in EVENTS}
    assert {"health", "docs", "auth", "watchlists", "admin", "external"} <= groups
    assert {path.name for path in (ROOT / "events").iterdir()} == {"api", "audit", "relay", "mail"}
    assert {path.stem.rsplit("__", 1)[1] for path in MAIL_EVENTS} == {"sent", "partial-failure"}


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_sample_event_gets_its_expected_answer(handler, path: Path) -> None:  # type: ignore[no-untyped-def]
    event = load_event(path, placeholder_values())
    assert "{{" not in json.dumps(event)
    assert handler_for(path) is handler
    assert_expected_outcome(path, event, handler(event, LambdaContext()))


def assert_mail_outcome(path: Path, event: dict[str, Any], response: Any, mail: MailFlow, email: str) -> None:
    """`__sent`: no failure, and the one mail each request asks for is in the mailbox (every sample writes to the
    placeholder user's address); anything else as tests/support.py's assert_expected_outcome has it."""
    if path.stem.rsplit("__", 1)[1] != "sent":
        assert_expected_outcome(path, event, response)
        return
    assert response == {"batchItemFailures": []}
    asked = sorted(json.loads(record["body"])["kind"] for record in event["Records"])
    subjects = [message["subject"] for message in mail.to(email)]
    sent = sorted(kind for subject in subjects for kind, start in MAIL_SUBJECTS.items() if subject.startswith(start))
    assert sent == asked, subjects


@pytest.mark.parametrize(
    "path",
    MAIL_EVENTS,
    ids=lambda p: str(p.relative_to(ROOT / "events")),
)
def test_sample_mail_event_gets_its_expected_outcome(mail: MailFlow, path: Path) -> None:
    values = placeholder_values()
    event = load_event(path, values)
    assert "{{" not in json.dumps(event)
    assert mail.to(values["email"]) == []
    response = handler_for(path)(event, LambdaContext("mail"))
    assert_mail_outcome(path, event, response, mail, values["email"])


def test_make_invoke_prints_the_lambda_response(moto_server) -> None:  # type: ignore[no-untyped-def]
    # What it prints, not the deployed deadlines (a 0.8 s read), which a moto server shared with a busy suite can miss.
    env = os.environ | {"DYNAMODB_ENDPOINT_URL": moto_server.endpoint_url, "DYNAMODB_READ_TIMEOUT_SECONDS": "10"}
    event = ROOT / "events/api/watchlists/get-item__200.json"
    command = [sys.executable, "-m", "infra.commands.invoke", str(event)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[result.stdout.index('{\n  "statusCode"') :])
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["title"] == "Arrival"
