"""The CodeDeploy hooks' parts that need no API: the events they build, version pruning, the deadline, the refusal
of a KEEP_VERSIONS that leaves nothing to roll back to. The hooks against a real API: tests/integration/
test_pre_traffic_hook.py and tests/e2e/test_dev_server.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from infra.commands.sample_events import EVENTS_ROOT, load_event
from infra.local.events import LambdaContext
from tests.hook_stubs import HOOK_EVENT, HandlerAsFunction, RecordingCodeDeploy, VersionedFunctions
from watchlist_hooks import lifecycle, post_traffic, pre_traffic


def _shape(event: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    context = event["requestContext"]
    return set(event), set(context), set(context["identity"])


def test_the_pre_traffic_events_have_the_keys_api_gateway_sends_in_every_rest_sample_event() -> None:
    samples = [load_event(path, {}) for path in sorted((EVENTS_ROOT / "api").rglob("*.json"))]
    rest = [sample for sample in samples if "httpMethod" in sample]
    assert rest
    for check in pre_traffic.checks():
        assert all(_shape(check.event) == _shape(sample) for sample in rest), check.name
        assert check.event["requestContext"]["path"] == "/Prod" + check.event["path"]
        assert check.event["multiValueHeaders"] == {name: [value] for name, value in check.event["headers"].items()}
    assert [check.event["requestContext"]["requestId"] for check in pre_traffic.checks()] != [
        check.event["requestContext"]["requestId"] for check in pre_traffic.checks()
    ]  # new ones every run


@pytest.fixture
def codedeploy(monkeypatch: pytest.MonkeyPatch) -> RecordingCodeDeploy:
    stub = RecordingCodeDeploy()
    monkeypatch.setattr(lifecycle, "codedeploy_client", lambda: stub)
    return stub


def test_a_pre_traffic_hook_that_runs_out_of_time_reports_failed_before_lambdas_timeout(
    codedeploy: RecordingCodeDeploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hangs(event: dict[str, Any], context: Any) -> Any:
        time.sleep(30)

    monkeypatch.setattr(pre_traffic, "lambda_client", lambda: HandlerAsFunction(hangs))
    monkeypatch.setenv("TARGET_FUNCTION_VERSION", "arn:aws:lambda:us-east-1:123456789012:function:api:7")
    timeout = lifecycle.MARGIN_SECONDS + 1.5
    started = time.monotonic()
    assert pre_traffic.handler(HOOK_EVENT, LambdaContext(timeout_seconds=timeout)) == {"status": "Failed"}
    assert time.monotonic() - started < timeout - 1  # reported with time to spare
    assert codedeploy.reports == [
        {
            "deploymentId": HOOK_EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
            "status": "Failed",
        }
    ]


def test_a_hook_without_its_settings_reports_failed_once(codedeploy: RecordingCodeDeploy) -> None:
    assert pre_traffic.handler(HOOK_EVENT, LambdaContext()) == {"status": "Failed"}  # no TARGET_FUNCTION_VERSION
    assert codedeploy.statuses() == ["Failed"]


def test_keep_versions_below_two_is_refused_before_any_request(
    codedeploy: RecordingCodeDeploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = VersionedFunctions({"api": (5, {"live": ("5", {})})})
    monkeypatch.setattr(post_traffic, "lambda_client", lambda: functions)
    monkeypatch.setenv("API_URL", "http://127.0.0.1:9/")  # nothing listens: a request would fail the flow too
    monkeypatch.setenv("PRUNE_FUNCTIONS", "api")
    monkeypatch.setenv("KEEP_VERSIONS", "1")
    assert post_traffic.handler(HOOK_EVENT, LambdaContext()) == {"status": "Failed"}
    assert codedeploy.statuses() == ["Failed"]
    assert functions.deleted == []
    assert functions.pages_read == 0


def test_pruning_keeps_latest_the_newest_and_every_aliased_version_reading_every_page() -> None:
    functions = VersionedFunctions(
        {
            "api": (9, {"live": ("4", {"2": 0.1}), "old": ("3", {})}),  # live shifting from 4 to 2; an old alias
            "audit": (2, {}),
        }
    )
    before = functions.pages_read
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(post_traffic, "lambda_client", lambda: functions)
        deleted = post_traffic.prune("api", 3, time.monotonic() + 60)
        assert post_traffic.prune("audit", 2, time.monotonic() + 60) == []
    assert deleted == ["1", "5", "6"]  # oldest first; 9, 8, 7 are the newest three; 2, 3, 4 are aliased
    assert functions.versions["api"] == ["$LATEST", "2", "3", "4", "7", "8", "9"]
    assert functions.pages_read - before >= 5 + 1  # 10 versions in pages of 2, and the aliases


def test_pruning_stops_near_the_deadline_and_leaves_the_rest_for_the_next_deploy() -> None:
    functions = VersionedFunctions({"api": (6, {"live": ("6", {})})})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(post_traffic, "lambda_client", lambda: functions)
        assert post_traffic.prune("api", 2, time.monotonic() + post_traffic.DELETE_SECONDS / 2) == []
    assert functions.deleted == []


def test_versions_to_delete_never_names_latest_or_a_weighted_alias_version() -> None:
    aliases = [{"Name": "live", "FunctionVersion": "10", "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.5}}}]
    versions = ["$LATEST", *map(str, range(1, 11))]
    assert post_traffic.versions_to_delete(versions, aliases, 2) == ["1", "2", "4", "5", "6", "7", "8"]
    assert post_traffic.versions_to_delete(["$LATEST"], [], 2) == []
