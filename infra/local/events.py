"""API Gateway proxy events (REST v1 and HTTP API v2), SQS batches and a Lambda context, as AWS builds them.

Used by the local gateway and queue poller and by the tests, so all exercise the exact event shapes the
deployed functions receive: request id, source IP and stage included.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.typing import LambdaContext as PowertoolsLambdaContext

ACCOUNT_ID = "123456789012"
API_ID = "local"


class LambdaContext(PowertoolsLambdaContext):
    """Lambda's context object for local invocations, a real Powertools `LambdaContext` (what Powertools and Mangum
    read), so handlers take it as they take the runtime's."""

    def __init__(self, function_name: str = "watchlist-api", timeout_seconds: float = 10.0) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}"
        self._memory_limit_in_mb = 1024
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = "local"
        self._timeout_seconds = timeout_seconds
        self._started = time.monotonic()

    # Powertools declares it a staticmethod (its class is only a type); the runtime's is a method, as here.
    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._timeout_seconds - (time.monotonic() - self._started)) * 1000))


def _body_fields(body: bytes | None) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def _multi(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def api_gateway_event(
    method: str,
    path: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    query: str = "",
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
    stage: str | None = None,
    version: str = "1.0",
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway proxy event for `method path?query`.

    `stage` set means the client called the execute-api URL `/<stage><path>`; None means a
    custom domain or `sam local`, where the path carries no stage.
    """
    header_pairs = list(headers)
    request_id = request_id or str(uuid.uuid4())
    now = datetime.now(UTC)
    epoch_ms = int(now.timestamp() * 1000)
    text_body, is_base64 = _body_fields(body)
    query_pairs = parse_qsl(query, keep_blank_values=True)
    visible_path = f"/{stage}{path}" if stage else path
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), "")
    if version == "2.0":
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": visible_path,
            "rawQueryString": query,
            "cookies": [v for k, v in header_pairs if k.lower() == "cookie"],
            "headers": {k.lower(): ",".join(v) for k, v in _multi((k.lower(), v) for k, v in header_pairs).items()},
            "queryStringParameters": {k: ",".join(v) for k, v in _multi(query_pairs).items()} or None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {
                    "method": method,
                    "path": visible_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": stage or "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": epoch_ms,
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }
    multi_headers = _multi(header_pairs)
    multi_query = _multi(query_pairs)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": "proxy",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": visible_path,
            "stage": stage or "Prod",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": epoch_ms,
            "protocol": "HTTP/1.1",
            "domainName": "localhost",
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def response_body(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def response_headers(response: dict[str, Any]) -> list[tuple[str, str]]:
    """Headers of a proxy response, whichever of the v1 and v2 header fields carry them."""
    pairs = [(k, v) for k, values in (response.get("multiValueHeaders") or {}).items() for v in values]
    seen = {k.lower() for k, _ in pairs}
    pairs += [(k, v) for k, v in (response.get("headers") or {}).items() if k.lower() not in seen]
    pairs += [("set-cookie", cookie) for cookie in response.get("cookies") or []]
    return pairs


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from ReceiveMessage results (attributes requested: All)."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """The EventBridge event a `Schedule` event source delivers."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
