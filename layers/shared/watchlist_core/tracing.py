"""Traces, all in this module: OpenTelemetry spans, so that the provider can change here alone.

In Lambda (`Tracing: Active`) the spans go as OTLP over UDP to the X-Ray endpoint the runtime runs beside the
function (AWS_XRAY_DAEMON_ADDRESS): no collector layer, and a `sendto` per span that never waits. Each invocation's
span is a child of the segment Lambda started for it (`_X_AMZN_TRACE_ID`), whose sampling decision it follows, and
trace ids are X-Ray's (the first 32 bits the time). Under `make dev` (TRACING=log) each invocation's spans are one
log line. Off, every function here is a cheap no-op of the OpenTelemetry API (which FastAPI imports anyway); the
SDK is imported at the first invocation that traces.

What a span may hold: names, operations, table and queue names, status codes, the route's name and the user's id.
Never a body, a header's value or a key.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from watchlist_core.observability import logger
from watchlist_core.settings import get_settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

XRAY_HEADER = "X-Amzn-Trace-Id"
LAMBDA_TRACE_ENV = "_X_AMZN_TRACE_ID"
# The X-Ray endpoint's framing of an OTLP datagram: a JSON line, then "T1S" (sampled spans) and base64 protobuf.
_UDP_HEADER = b'{"format":"json","version":1}\nT1S'
# Attributes X-Ray indexes as annotations (searchable in the console), the others being metadata.
_ANNOTATIONS = ("route", "user_id", "gateway_request_id", "request_id")

_tracer: trace.Tracer = trace.NoOpTracer()
_provider: TracerProvider | None = None
_log_exporter: InMemorySpanExporter | None = None
_configured = False
_invocation_span: ContextVar[trace.Span | None] = ContextVar("invocation_span", default=None)


class XRayUdpExporter:
    """OTLP spans, each export one datagram, to the X-Ray endpoint of the Lambda runtime (host:port)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace.export import SpanExportResult

        payload = base64.b64encode(encode_spans(spans).SerializeToString())
        try:
            self._socket.sendto(_UDP_HEADER + payload, self._address)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()

    def force_flush(self, timeout_millis: int = 0) -> bool:
        return True


def _mode() -> str:
    settings = get_settings()
    if settings.tracing == "auto":
        return "xray" if settings.aws_xray_daemon_address else "off"
    return settings.tracing


def configure(mode: str, xray_address: str | None = None) -> None:
    """The provider for `mode` ("off", "xray", "log"). The first invocation calls it with the settings' mode (not
    the import: no configuration is read then); a benchmark may call it to switch."""
    global _configured, _provider, _tracer, _log_exporter
    reset()
    _configured = True
    if mode == "off":
        return
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    service = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "watchlist-local")
    _provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(), resource=Resource({"service.name": service, "cloud.provider": "aws"})
    )
    exporter: Any
    if mode == "xray":
        exporter = XRayUdpExporter(xray_address or "127.0.0.1:2000")
    else:
        exporter = _log_exporter = InMemorySpanExporter()
    # One span a datagram, sent as it ends: nothing waits in a buffer when Lambda freezes the instance.
    _provider.add_span_processor(SimpleSpanProcessor(exporter))
    _tracer = _provider.get_tracer("watchlist")


def reset() -> None:
    """Forget the provider: the next invocation configures one from the settings again (wiring.reset)."""
    global _configured, _provider, _tracer, _log_exporter
    if _provider is not None:
        _provider.shutdown()
    _configured, _provider, _tracer, _log_exporter = False, None, trace.NoOpTracer(), None


def _context_of(header: str | None) -> otel_context.Context | None:
    """The span context an X-Ray trace header (`Root=1-...;Parent=...;Sampled=1`) names, as a parent context."""
    if not header:
        return None
    from opentelemetry.propagators.aws import AwsXRayPropagator

    return AwsXRayPropagator().extract({XRAY_HEADER: header})


@contextmanager
def invocation(name: str, *, consumer: bool = False, **attributes: Any) -> Iterator[None]:
    """A Lambda invocation's span (a server's, or a queue consumer's), child of the segment Lambda started for it;
    an error that escapes marks it."""
    if not _configured:
        configure(_mode(), get_settings().aws_xray_daemon_address)
    parent = _context_of(os.environ.get(LAMBDA_TRACE_ENV)) if _provider else None
    kind = SpanKind.CONSUMER if consumer else SpanKind.SERVER
    with _current(name, parent=parent, kind=kind, attributes=attributes) as started:
        token = _invocation_span.set(started)
        try:
            yield
        finally:
            _invocation_span.reset(token)
    if _log_exporter is not None:
        _log_spans(_log_exporter)


@contextmanager
def span(name: str, *, linked_to: str | None = None, **attributes: Any) -> Iterator[None]:
    """A child of the current span; `linked_to` (an X-Ray trace header) links it to the span that header names."""
    links = []
    if linked_to and _provider:
        linked = trace.get_current_span(_context_of(linked_to)).get_span_context()
        if linked.is_valid:
            links.append(Link(linked))
    with _current(name, links=links, attributes=attributes):
        yield


@contextmanager
def _current(
    name: str,
    *,
    parent: otel_context.Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Link] = (),
    attributes: Mapping[str, Any],
) -> Iterator[trace.Span]:
    """The span, current until it ends; an exception marks it with its class only (its message may hold input)."""
    with _tracer.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        links=links,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as started:
        try:
            yield started
        except BaseException as error:
            started.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


def annotate(**attributes: Any) -> None:
    """Attributes of the invocation's span (the route, the user), indexed by X-Ray as annotations."""
    invocation_span = _invocation_span.get()
    if invocation_span is None or not invocation_span.is_recording():
        return
    invocation_span.set_attributes({key: value for key, value in attributes.items() if value is not None})
    recorded = cast("ReadableSpan", invocation_span).attributes or {}  # a recording span is the SDK's
    invocation_span.set_attribute("aws.xray.annotations", [key for key in _ANNOTATIONS if key in recorded])


def fail(reason: str) -> None:
    """Marks the invocation's span as failed (a 5xx answer)."""
    invocation_span = _invocation_span.get()
    if invocation_span is not None:
        invocation_span.set_status(Status(StatusCode.ERROR, reason))


def trace_header() -> str | None:
    """The current span as an X-Ray trace header, for SQS's AWSTraceHeader; None when not tracing."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    sampled = int(context.trace_flags.sampled)
    return f"Root={xray_trace_id(context.trace_id)};Parent={context.span_id:016x};Sampled={sampled}"


def current_trace_id() -> str | None:
    """The current trace's id in X-Ray's form (`1-<time>-<rest>`); None when not tracing."""
    context = trace.get_current_span().get_span_context()
    return xray_trace_id(context.trace_id) if context.is_valid else None


def xray_trace_id(trace_id: int) -> str:
    hexadecimal = f"{trace_id:032x}"
    return f"1-{hexadecimal[:8]}-{hexadecimal[8:]}"


def watch_aws_calls(client: Any) -> None:
    """A span for each call of a botocore client: service, operation, table or queue, status, request id."""
    if getattr(client, "_watchlist_traced", False):
        return
    client.meta.events.register("before-parameter-build", _name_aws_call)
    client.meta.events.register("before-call", _start_aws_call)
    client.meta.events.register("after-call", _end_aws_call)
    client.meta.events.register("after-call-error", _fail_aws_call)
    client._watchlist_traced = True


def _name_aws_call(model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    """What the call is about, from its parameters (the later events see only the serialized request)."""
    service = str(model.service_model.service_id)
    attributes: dict[str, Any] = {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": model.name}
    if "TableName" in params:
        attributes["aws.dynamodb.table_names"] = [params["TableName"]]
    elif "TransactItems" in params:
        tables = {next(iter(item.values()))["TableName"] for item in params["TransactItems"]}
        attributes["aws.dynamodb.table_names"] = sorted(tables)
    if "QueueUrl" in params:
        attributes["messaging.destination.name"] = params["QueueUrl"].rsplit("/", 1)[-1]
    context["watchlist_call"] = attributes


def _start_aws_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    attributes = context.pop("watchlist_call", {})
    name = f"{model.service_model.service_id} {model.name}"
    context["watchlist_span"] = _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def _end_aws_call(http_response: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    started = context.pop("watchlist_span", None)
    if started is None:
        return
    started.set_attribute("http.response.status_code", http_response.status_code)
    request_id = parsed.get("ResponseMetadata", {}).get("RequestId")
    if request_id:
        started.set_attribute("aws.request_id", request_id)
    if http_response.status_code >= 400:
        started.set_status(Status(StatusCode.ERROR, parsed.get("Error", {}).get("Code", "")))
    started.end()


def _fail_aws_call(exception: Exception, context: dict[str, Any], **_: Any) -> None:
    started = context.pop("watchlist_span", None)
    if started is not None:
        started.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        started.end()


def _log_spans(exporter: InMemorySpanExporter) -> None:
    """make dev: the invocation's spans as one log line, each child with its duration from the invocation's start."""
    spans = sorted(exporter.get_finished_spans(), key=lambda finished: finished.start_time or 0)
    exporter.clear()
    if not spans:
        return
    root = next((one for one in spans if one.parent is None or one.parent.is_remote), spans[0])
    origin = root.start_time or 0

    def milliseconds(nanoseconds: int) -> float:
        return round(nanoseconds / 1e6, 2)

    logger.info(
        "trace",
        extra={
            "trace_id": xray_trace_id(root.context.trace_id),
            "span": root.name,
            "duration_ms": milliseconds((root.end_time or 0) - origin),
            "children": [
                f"{one.name} +{milliseconds((one.start_time or 0) - origin)} "
                f"{milliseconds((one.end_time or 0) - (one.start_time or 0))}ms"
                + ("" if one.status.is_ok else " ERROR")
                + "".join(f" linked to {xray_trace_id(link.context.trace_id)}" for link in one.links)
                for one in spans
                if one is not root
            ],
        },
    )
