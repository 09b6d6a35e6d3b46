"""CodeDeploy's BeforeAllowTraffic hook: the new version of the API function, invoked directly (no traffic reaches it
yet) with API Gateway REST proxy events that need no user, must answer as the contract says:

- GET /health: 200, `{"status": "pass"}`, the gateway's request id echoed as `X-Request-ID`;
- GET /docs: 200, Swagger UI's HTML;
- POST /v1/auth/login for an unknown address: 401, an RFC 9457 problem (the sign-in path reads the users table
  and hashes: settings, permissions and the signing key are in place).

A FunctionError, another status or another body fails the deployment. Environment: TARGET_FUNCTION_VERSION (the new
version's qualified ARN), STAGE_NAME (optional, `Prod`: the stage the events name).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watchlist_hooks.lifecycle import CheckFailed, lambda_client, logger, run_hook

SOURCE_IP = "192.0.2.1"  # TEST-NET-1 (RFC 5737): no client's address, so its limits and logs are the hook's own
USER_AGENT = "watchlist-pre-traffic-hook"


def api_event(method: str, path: str, *, body: Any = None, stage: str = "Prod") -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) proxy event for `method path` through `stage`, with the keys API Gateway
    sends (tests/unit/test_hooks.py holds it to the sample events in events/api)."""
    request_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    domain = "pre-traffic.execute-api.amazonaws.com"
    headers = {"Accept": "*/*", "Host": domain, "User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "pre-traffic",
            "resourceId": "proxy",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "protocol": "HTTP/1.1",
            "domainName": domain,
            "identity": {"sourceIp": SOURCE_IP, "userAgent": USER_AGENT},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise CheckFailed(f"the answer is not JSON ({self.headers.get('content-type')})") from error


def invoke(function: str, event: dict[str, Any]) -> Answer:
    """The function's answer to `event`; CheckFailed on a FunctionError (an unhandled exception, a timeout)."""
    response = lambda_client().invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        try:
            error_type = json.loads(payload).get("errorType", "unknown")
        except (ValueError, AttributeError):
            error_type = "unknown"
        raise CheckFailed(f"the function failed ({response['FunctionError']}: {error_type})")
    answer = json.loads(payload)
    headers = {name.lower(): str(value) for name, value in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ",".join(map(str, values)))
    raw = answer.get("body") or ""
    body = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
    return Answer(int(answer.get("statusCode", 0)), headers, body)


@dataclass(frozen=True)
class Check:
    name: str
    event: dict[str, Any]
    status: int
    verify: Callable[[Answer, dict[str, Any]], None]  # raises CheckFailed


def _liveness(answer: Answer, event: dict[str, Any]) -> None:
    if answer.json() != {"status": "pass"}:
        raise CheckFailed("GET /health: the body is not {'status': 'pass'}")
    if answer.headers.get("x-request-id") != event["requestContext"]["requestId"]:
        raise CheckFailed("GET /health: X-Request-ID is not the gateway's request id")


def _swagger(answer: Answer, event: dict[str, Any]) -> None:
    if not answer.headers.get("content-type", "").startswith("text/html") or b"swagger" not in answer.body.lower():
        raise CheckFailed("GET /docs: not Swagger UI's HTML page")


def _refused(answer: Answer, event: dict[str, Any]) -> None:
    if not answer.headers.get("content-type", "").startswith("application/problem+json"):
        raise CheckFailed("POST /v1/auth/login: the refusal is not an application/problem+json")
    if answer.json().get("status") != 401:
        raise CheckFailed("POST /v1/auth/login: the problem's status is not 401")


def checks(stage: str = "Prod") -> list[Check]:
    """The events (new ones each time: request ids, an unknown address) and what each must answer."""
    unknown = {"email": f"pre-traffic-{uuid.uuid4().hex[:16]}@example.invalid", "password": secrets.token_urlsafe(16)}
    return [
        Check("health", api_event("GET", "/health", stage=stage), 200, _liveness),
        Check("docs", api_event("GET", "/docs", stage=stage), 200, _swagger),
        Check("refused sign-in", api_event("POST", "/v1/auth/login", body=unknown, stage=stage), 401, _refused),
    ]


def run_checks(function: str, deadline: float, stage: str = "Prod") -> None:
    for check in checks(stage):
        if time.monotonic() >= deadline:
            raise CheckFailed(f"out of time before the '{check.name}' check")
        started = time.perf_counter()
        try:
            answer = invoke(function, check.event)
            if answer.status != check.status:
                raise CheckFailed(f"{check.name}: expected {check.status}, got {answer.status}")
            check.verify(answer, check.event)
        except CheckFailed as failure:
            logger.info("check", extra={"check": check.name, "passed": False, "reason": str(failure)})
            raise
        duration = round((time.perf_counter() - started) * 1000)
        logger.info("check", extra={"check": check.name, "passed": True, "duration_ms": duration})


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    def work(deadline: float) -> None:  # the settings read inside: a missing one is a Failed report too
        run_checks(os.environ["TARGET_FUNCTION_VERSION"], deadline, os.environ.get("STAGE_NAME", "Prod"))

    return run_hook("pre_traffic", event, context, work)
