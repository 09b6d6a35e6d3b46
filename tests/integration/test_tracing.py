"""Tracing as in Lambda with `Tracing: Active`: the API handler, then the audit handler, with the X-Ray endpoint
(AWS_XRAY_DAEMON_ADDRESS) a UDP socket this test reads, and each invocation's segment in `_X_AMZN_TRACE_ID`.
The datagrams are decoded as the endpoint does (a JSON line, `T1S`, base64 of OTLP protobuf) and their spans
checked: one trace for the request, its DynamoDB, Redis and SQS children, the queue message carrying the context,
the audit invocation linked to it, the stored event naming the trace, and nothing from bodies or tokens."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from infra.local.github_stub import DEMO_USERS, GitHubStub
from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from infra.local.sqs_poller import QueuePoller
from tests.support import Api, unique_email
from watchlist_core import wiring
from watchlist_core.audit.events import RequestOrigin, current_origin, new_event
from watchlist_core.audit.message import AuditAction
from watchlist_core.settings import get_settings

UDP_HEADER = b'{"format":"json","version":1}\nT1S'
PASSWORD = "a traced password 1"
TITLE = "A title only the body holds"
API_PARENT, AUDIT_PARENT = "53995c3f42cd8ad8", "0123456789abcdef"


def new_trace_id() -> str:
    """An X-Ray trace id as Lambda makes one: the time, then 96 random bits (each test its own)."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def segment(root: str, parent: str) -> str:
    return f"Root={root};Parent={parent};Sampled=1"


def trace_bytes(root: str) -> bytes:
    return bytes.fromhex(root[2:].replace("-", ""))


class XRayEndpoint:
    """The UDP endpoint Lambda runs for X-Ray, here a socket whose datagrams are decoded into spans."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.3)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def spans(self) -> list[tuple[str, Span]]:
        """(service name, span) of every datagram received since the last call."""
        received: list[tuple[str, Span]] = []
        while True:
            try:
                datagram = self.socket.recv(65536)
            except TimeoutError:
                return received
            assert datagram.startswith(UDP_HEADER)
            request = ExportTraceServiceRequest.FromString(base64.b64decode(datagram[len(UDP_HEADER) :]))
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
                )
                received += [(service, one) for scope in resource_spans.scope_spans for one in scope.spans]


def recorded(span: Span) -> dict[str, Any]:
    """A span's attributes as Python values (strings, ints, lists)."""

    def value(any_value: Any) -> Any:
        kind = any_value.WhichOneof("value")
        if kind == "array_value":
            return [value(item) for item in any_value.array_value.values]
        return getattr(any_value, kind)

    return {attribute.key: value(attribute.value) for attribute in span.attributes}


@pytest.fixture
def xray(
    redis_server: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch, dynamodb: str
) -> Iterator[XRayEndpoint]:
    endpoint = XRayEndpoint()
    redis_server.client().flushall()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", endpoint.address)  # TRACING=auto: on where Lambda sets it
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "watchlist-api")
    wiring.reset()
    yield endpoint
    endpoint.socket.close()


def test_a_write_is_one_trace_through_dynamodb_redis_and_sqs_linked_to_the_audit_function_that_stores_it(
    xray: XRayEndpoint, handler: Any, monkeypatch: pytest.MonkeyPatch, sqs: Any, audit_handler: Any
) -> None:
    api = Api(handler)
    api_root, audit_root = new_trace_id(), new_trace_id()
    user = api.register(password=PASSWORD)
    token = api.login(user["email"], PASSWORD)["access_token"]
    poller = QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler)
    assert poller.poll_once().deleted == 2  # the sign-up's and the login's events
    xray.spans()  # those requests' and that invocation's traces: not this test's subject

    monkeypatch.setenv("_X_AMZN_TRACE_ID", segment(api_root, API_PARENT))
    created = api.post("/v1/watchlists/items", json={"title": TITLE, "type": "movie"}, token=token)
    assert created.status == 201
    spans = [one for service, one in xray.spans() if service == "watchlist-api"]

    # One trace, under the segment Lambda started; every span reaches the invocation's through its parents.
    assert {one.trace_id for one in spans} == {trace_bytes(api_root)}
    (invocation,) = [one for one in spans if one.name == "watchlist-api"]
    assert invocation.parent_span_id == bytes.fromhex(API_PARENT)
    by_id = {one.span_id: one for one in spans}
    for one in spans:
        while one is not invocation:
            one = by_id[one.parent_span_id]
    gateway_request_id = api.calls[-1]["requestContext"]["requestId"]
    assert recorded(invocation) == {
        "faas_invocation_id": recorded(invocation)["faas_invocation_id"],
        "user_id": user["id"],
        "route": "add_item",
        "request_id": created.header("X-Request-ID"),
        "gateway_request_id": gateway_request_id,
        "http.response.status_code": 201,
        "aws.xray.annotations": ["route", "user_id", "gateway_request_id", "request_id"],  # X-Ray indexes these
    }
    children = {one.name: recorded(one) for one in spans if one is not invocation}
    print(children)
    assert {"redis admit_user", "SQS SendMessage"} <= set(children), children
    assert children["SQS SendMessage"]["messaging.destination.name"] == os.environ["AUDIT_QUEUE_URL"].rsplit("/", 1)[1]
    writes = [attributes for name, attributes in children.items() if name.startswith("DynamoDB ")]
    assert {get_settings().items_table} <= {table for write in writes for table in write["aws.dynamodb.table_names"]}

    # Nothing of the body or the token.
    everything = b"".join(one.SerializeToString() for one in spans)  # protobuf keeps strings as they are
    for secret in (TITLE, token, PASSWORD, user["email"]):
        assert secret.encode() not in everything

    # The audit message carries the request's trace; the audit invocation (a trace of its own) links to it.
    monkeypatch.setenv("_X_AMZN_TRACE_ID", segment(audit_root, AUDIT_PARENT))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "watchlist-audit")
    wiring.reset()
    assert poller.poll_once().deleted == 1
    audit_spans = [one for service, one in xray.spans() if service == "watchlist-audit"]
    assert {one.trace_id for one in audit_spans} == {trace_bytes(audit_root)}
    (store,) = [one for one in audit_spans if one.name == "audit store"]
    assert [(link.trace_id, link.span_id) for link in store.links] == [(trace_bytes(api_root), invocation.span_id)]
    # The event, then its lookups by trace and by gateway id.
    stores = [one.name for one in audit_spans if one.parent_span_id == store.span_id]
    assert stores == ["DynamoDB PutItem", "DynamoDB UpdateItem", "DynamoDB UpdateItem"]

    # The stored event names the trace and the gateway's request id beside the client's correlation id.
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    admin = unique_email()
    wiring.get_services().auth.ensure_admin(admin, PASSWORD)
    admin_token = api.login(admin, PASSWORD)["access_token"]
    trail = api.get("/v1/admin/audit", token=admin_token, query={"action": "item.created"})
    stored = [event for event in trail.json()["items"] if event["target"]["id"] == created.json()["id"]]
    assert [(event["trace_id"], event["gateway_request_id"]) for event in stored] == [(api_root, gateway_request_id)]

    # The admin finds the request's events by either id (both: the request both name), and nothing by another.
    def found(**query: str) -> list[str]:
        answer = api.get("/v1/admin/audit", token=admin_token, query=query)
        assert answer.status == 200, answer.body
        return [event["id"] for event in answer.json()["items"]]

    assert found(trace_id=api_root) == [stored[0]["id"]]
    assert found(gateway_request_id=gateway_request_id) == [stored[0]["id"]]
    assert found(trace_id=api_root, gateway_request_id=gateway_request_id, action="item.created") == [stored[0]["id"]]
    assert found(trace_id=api_root, action="item.deleted") == []
    assert found(trace_id=audit_root) == []
    assert api.get("/v1/admin/audit", token=admin_token, query={"trace_id": "admin-maint-0001"}).status == 422


def test_an_event_the_audit_function_cannot_store_is_logged_with_its_requests_ids_and_its_span_failed(
    xray: XRayEndpoint, sqs: Any, audit_handler: Any, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    trace_id = new_trace_id()
    origin = current_origin.set(RequestOrigin("client-chosen-1", None, "gateway-id-1", trace_id))
    try:
        event = new_event(AuditAction.USER_REGISTERED, actor_id="01M8XVYC99FA563053V2S3S0Y1")
    finally:
        current_origin.reset(origin)
    sqs.send_message(QueueUrl=os.environ["AUDIT_QUEUE_URL"], MessageBody=event.model_dump_json())
    monkeypatch.setenv("AUDIT_TABLE", "no-such-table")  # every store fails
    monkeypatch.setenv("_X_AMZN_TRACE_ID", segment(new_trace_id(), AUDIT_PARENT))
    wiring.reset()
    assert QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler).poll_once().deleted == 0
    failures = [line for line in map(json.loads, log_lines.getvalue().splitlines()) if line["level"] == "WARNING"]
    assert [(line["request_id"], line["gateway_request_id"], line["trace_id"]) for line in failures] == [
        ("client-chosen-1", "gateway-id-1", trace_id)
    ]
    (store,) = [one for _, one in xray.spans() if one.name == "audit store"]
    assert store.status.code == store.status.STATUS_CODE_ERROR


def test_a_github_lookup_is_a_span_of_its_own_and_the_access_log_names_the_trace(
    xray: XRayEndpoint, handler: Any, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    with GitHubStub(DEMO_USERS) as github:
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        wiring.reset()
        api = Api(handler)
        _, token = api.new_user()
        xray.spans()
        root = new_trace_id()
        monkeypatch.setenv("_X_AMZN_TRACE_ID", segment(root, API_PARENT))
        assert api.get("/v1/external/github/users/octocat", token=token).status == 200
    spans = {one.name: one for _, one in xray.spans()}
    lookup = spans["github GET /users/{username}"]
    assert lookup.parent_span_id == spans["watchlist-api"].span_id
    assert recorded(lookup) == {"server.address": github.url}
    assert recorded(spans["watchlist-api"])["route"] == "github_user"
    (access,) = [line for line in map(json.loads, log_lines.getvalue().splitlines()) if line["message"] == "request"][
        -1:
    ]
    assert (access["trace_id"], access["gateway_request_id"]) == (root, api.calls[-1]["requestContext"]["requestId"])
