"""The documented bootstrap commands: tables from the template, the first admin from the environment."""

from __future__ import annotations

import io
import json

import pytest

from infra.aws import bootstrap
from tests.support import PASSWORD, Api, unique_email
from watchlist_core.observability import logger
from watchlist_core.settings import get_settings


def test_creating_tables_twice_creates_nothing_the_second_time(dynamodb: str) -> None:
    assert bootstrap.create_tables(get_settings()) == []
    assert bootstrap.main(["tables"]) == 0


def test_the_admin_command_needs_both_variables_and_is_idempotent(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    assert bootstrap.main(["admin"]) == 2
    email = unique_email()
    monkeypatch.setenv("ADMIN_EMAIL", email)
    monkeypatch.setenv("ADMIN_PASSWORD", "first admin password")
    assert bootstrap.main(["admin"]) == 0
    assert bootstrap.main(["admin"]) == 0
    output = capsys.readouterr().out
    assert "created" in output
    assert "promoted (password unchanged)" in output
    assert api.login(email, "first admin password")["access_token"]


def test_passwords_and_tokens_never_reach_the_logs(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    user = api.register()
    tokens = api.login(user["email"])
    api.post("/v1/auth/register", json={"email": "bad", "password": PASSWORD})
    api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    api.get("/v1/auth/me", token=tokens["access_token"])
    logged = buffer.getvalue()
    assert [json.loads(line)["message"] for line in logged.splitlines()].count("request") == 5
    for secret in (PASSWORD, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in logged
