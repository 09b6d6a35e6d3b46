"""Stand-ins for the AWS clients the CodeDeploy hooks use (functions/hooks): CodeDeploy's report recorded (moto's
CodeDeploy has no PutLifecycleEventHookExecutionStatus), Lambda's invoke played by a handler in-process, and a
function's published versions and aliases, listed in small pages as Lambda's list calls page."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from infra.local.events import LambdaContext

HOOK_EVENT = {"DeploymentId": "d-SMOKE0001", "LifecycleEventHookExecutionId": "execution-1"}


class RecordingCodeDeploy:
    def __init__(self) -> None:
        self.reports: list[dict[str, str]] = []

    def put_lifecycle_event_hook_execution_status(self, **report: str) -> dict[str, str]:
        self.reports.append(report)
        return {"lifecycleEventHookExecutionId": report["lifecycleEventHookExecutionId"]}

    def statuses(self) -> list[str]:
        return [report["status"] for report in self.reports]


class HandlerAsFunction:
    """Lambda's Invoke (RequestResponse) of a function version, played by `handler` in this process: an exception is
    Lambda's FunctionError "Unhandled" with the runtime's error payload."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        self.handler = handler
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event))
        try:
            answer = self.handler(event, LambdaContext())
        except Exception as error:  # noqa: BLE001 (what Lambda reports of an unhandled exception)
            failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(failure).encode()),
            }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


class ConflictError(Exception):
    """Lambda's ResourceConflictException: deleting `$LATEST` or a version an alias routes to."""


class VersionedFunctions:
    """ListVersionsByFunction, ListAliases (both `page_size` entries a page, with a NextMarker) and DeleteFunction
    with a Qualifier, over versions 1..`versions` and `aliases` ({name: (version, {version: weight})}) of each
    function. Deleting `$LATEST` or an aliased version fails, as Lambda refuses it."""

    def __init__(self, functions: dict[str, tuple[int, dict[str, tuple[str, dict[str, float]]]]], page_size: int = 2):
        self.versions = {name: ["$LATEST", *map(str, range(1, count + 1))] for name, (count, _) in functions.items()}
        self.aliases = {name: aliases for name, (_, aliases) in functions.items()}
        self.page_size = page_size
        self.deleted: list[tuple[str, str]] = []
        self.pages_read = 0

    def _page(self, entries: list[dict[str, Any]], key: str, marker: str | None) -> dict[str, Any]:
        self.pages_read += 1
        start = int(marker or 0)
        page: dict[str, Any] = {key: entries[start : start + self.page_size]}
        if start + self.page_size < len(entries):
            page["NextMarker"] = str(start + self.page_size)
        return page

    def list_versions_by_function(self, *, FunctionName: str, Marker: str | None = None) -> dict[str, Any]:
        return self._page([{"Version": v} for v in self.versions[FunctionName]], "Versions", Marker)

    def list_aliases(self, *, FunctionName: str, Marker: str | None = None) -> dict[str, Any]:
        aliases = [
            {"Name": name, "FunctionVersion": version, "RoutingConfig": {"AdditionalVersionWeights": weights}}
            if weights
            else {"Name": name, "FunctionVersion": version}
            for name, (version, weights) in self.aliases[FunctionName].items()
        ]
        return self._page(aliases, "Aliases", Marker)

    def delete_function(self, *, FunctionName: str, Qualifier: str) -> None:
        named = {v for version, weights in self.aliases[FunctionName].values() for v in (version, *weights)}
        if Qualifier == "$LATEST" or Qualifier in named:
            raise ConflictError(f"{FunctionName}:{Qualifier} is $LATEST or aliased")
        self.versions[FunctionName].remove(Qualifier)
        self.deleted.append((FunctionName, Qualifier))
