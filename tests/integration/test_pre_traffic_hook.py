"""The pre-traffic hook against the API function's real handler, played as the new version (Lambda's Invoke run
in-process, on the session's moto server): a good version is let through; the same code with wrong settings is not."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.events import LambdaContext
from tests.hook_stubs import HOOK_EVENT, HandlerAsFunction, RecordingCodeDeploy
from watchlist_core import wiring
from watchlist_hooks import lifecycle, pre_traffic

VERSION = "arn:aws:lambda:us-east-1:123456789012:function:watchlist-api-ApiFunction:12"


@pytest.fixture
def codedeploy(monkeypatch: pytest.MonkeyPatch) -> RecordingCodeDeploy:
    stub = RecordingCodeDeploy()
    monkeypatch.setattr(lifecycle, "codedeploy_client", lambda: stub)
    monkeypatch.setenv("TARGET_FUNCTION_VERSION", VERSION)
    return stub


@pytest.fixture
def new_version(handler: Any, monkeypatch: pytest.MonkeyPatch) -> HandlerAsFunction:
    function = HandlerAsFunction(handler)
    monkeypatch.setattr(pre_traffic, "lambda_client", lambda: function)
    return function


def test_a_good_version_answers_health_docs_and_a_refused_sign_in_and_is_let_through(
    codedeploy: RecordingCodeDeploy, new_version: HandlerAsFunction
) -> None:
    assert pre_traffic.handler(HOOK_EVENT, LambdaContext(timeout_seconds=30)) == {"status": "Succeeded"}
    assert codedeploy.reports == [
        {
            "deploymentId": HOOK_EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
            "status": "Succeeded",
        }
    ]
    assert [(function, event["httpMethod"], event["path"]) for function, event in new_version.invoked] == [
        (VERSION, "GET", "/health"),
        (VERSION, "GET", "/docs"),
        (VERSION, "POST", "/v1/auth/login"),
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("USERS_TABLE", "no-such-table"), ("JWT_SECRET", None)],
    ids=["a-table-that-does-not-exist", "no-signing-key"],
)
def test_the_same_code_with_wrong_settings_fails_the_deployment(
    codedeploy: RecordingCodeDeploy,
    new_version: HandlerAsFunction,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    wiring.reset()  # the settings are read once per instance: this "version" starts with these
    assert pre_traffic.handler(HOOK_EVENT, LambdaContext(timeout_seconds=30)) == {"status": "Failed"}
    assert codedeploy.statuses() == ["Failed"]
