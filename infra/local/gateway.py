"""The local front door on the API's port: each HTTP request handed on, and the local mailbox served beside it.

Two ways to hand a request on. `make_server` (make dev) is a local API Gateway: the request becomes a proxy event
handed to a Lambda instance (infra/local/instances.py); each instance runs one invocation at a time, as in AWS,
and the response says which instance answered (`X-Local-Instance`), so concurrency can be seen. `make_proxy` (make
sam-local) passes the request on to `sam local start-api`, which has no way to serve a path of its own.
Connections are served concurrently: a client holding a keep-alive connection must not block the others.
"""

from __future__ import annotations

import http.client
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.local import mailbox
from infra.local.events import api_gateway_event, response_body, response_headers
from infra.local.instances import Instances
from watchlist_api.problems import PROBLEM_JSON, problem

# What a request handed on answers: its status, headers and body.
type Answer = tuple[int, list[tuple[str, str]], bytes]
type HandOn = Callable[[BaseHTTPRequestHandler, bytes | None], Answer]

# Headers of one connection (RFC 9110 7.6.1), and those the front door writes itself.
_NOT_PASSED_ON = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_WRITTEN_HERE = frozenset({"content-length", "connection", "date", "server"})
UPSTREAM_SECONDS = 300  # sam local's first request starts the function's container: 20 s and more on a busy machine


def make_server(instances: Instances, host: str, port: int, mailbox_file: Path | None = None) -> HTTPServer:
    """`mailbox_file`: the local mailbox (infra/local/mailbox.py) to serve at /_local/mailbox; the function never
    sees that path."""

    def invoke(request: BaseHTTPRequestHandler, body: bytes | None) -> Answer:
        url = urlsplit(request.path)
        event = api_gateway_event(
            request.command,
            url.path,
            headers=list(request.headers.items()),
            query=url.query,
            body=body,
            source_ip=request.client_address[0],
        )
        result, instance = instances.invoke(event)
        headers = [*response_headers(result), ("X-Local-Instance", str(instance))]
        return int(result.get("statusCode", 502)), headers, response_body(result)

    return _front_door(invoke, host, port, mailbox_file)


def make_proxy(upstream: str, host: str, port: int, mailbox_file: Path) -> HTTPServer:
    """Every request passed on to `upstream` (http://host:port) as it came, but /_local/mailbox."""
    address = urlsplit(upstream)

    def pass_on(request: BaseHTTPRequestHandler, body: bytes | None) -> Answer:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=UPSTREAM_SECONDS)
        try:
            connection.putrequest(request.command, request.path, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.items():
                if name.lower() not in _NOT_PASSED_ON:
                    connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    return _front_door(pass_on, host, port, mailbox_file)


def _front_door(hand_on: HandOn, host: str, port: int, mailbox_file: Path | None) -> HTTPServer:
    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "watchlist-local-gateway"
        # A response leaves in one write, with Nagle off: headers and body written apart on a kept-alive
        # connection made every response after the first wait ~40 ms for the client's delayed ACK.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def _proxy(self) -> None:
            on_mailbox = urlsplit(self.path).path.rstrip("/") == mailbox.MAILBOX_PATH
            if mailbox_file is not None and on_mailbox and self.command == "GET":
                self._mailbox(mailbox_file)
                return
            length_header = self.headers.get("Content-Length") or "0"
            if not length_header.isdigit():
                self.send_error(HTTPStatus.BAD_REQUEST, explain="The Content-Length header is not a length.")
                return
            length = int(length_header)
            body = self.rfile.read(length) if length else None
            try:
                status, headers, payload = hand_on(self, body)
            except Exception:  # noqa: BLE001 (whatever stopped the invocation: API Gateway's 502)
                traceback.print_exc()  # for the developer; the client learns no internal name
                self.send_error(HTTPStatus.BAD_GATEWAY, explain="The function could not be invoked.")
                return
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _WRITTEN_HERE | _NOT_PASSED_ON:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _mailbox(self, mailbox_file: Path) -> None:
            payload, content_type = mailbox.answer(mailbox_file, self.headers.get("Accept", ""))
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The gateway's own refusals (a header line over 64 KiB or over 100 headers: 431; a malformed request
            line or length: 400; a request line over 64 KiB: 414; a failed invocation: 502) as the RFC 9457 problems
            the API answers with, where the HTTP server would send an HTML page. The connection closes after it."""
            request_id = str(uuid.uuid4())
            path = urlsplit(getattr(self, "path", "") or "").path or "/"
            detail = explain or message or HTTPStatus(code).phrase
            body = problem(code, instance=path, request_id=request_id, detail=detail).body
            self.send_response(code)
            self.send_header("Content-Type", PROBLEM_JSON)
            self.send_header("X-Request-ID", request_id)
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def __getattr__(self, name: str) -> Any:
            """Every method reaches the function, as API Gateway's proxy (ANY) passes them: `do_TRACE` too."""
            if name.startswith("do_"):
                return self._proxy
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
            """Silent: the function's own JSON access log already records each request."""

    class GatewayServer(ThreadingHTTPServer):
        request_queue_size = 256  # bursts wait their turn instead of being refused
        daemon_threads = True  # idle keep-alive connections do not hold up a stop

    return GatewayServer((host, port), GatewayRequestHandler)
