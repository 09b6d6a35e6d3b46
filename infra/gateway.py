"""A local API Gateway: each HTTP request becomes a proxy event handed to the Lambda handler in-process.

Connections are served concurrently (a client holding a keep-alive connection must not block the others),
but the handler runs one invocation at a time, like one Lambda instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.events import LambdaContext, api_gateway_event, response_body, response_headers

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_server(handler: LambdaHandler, host: str, port: int) -> HTTPServer:
    one_invocation_at_a_time = threading.Lock()

    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "watchlist-local-gateway"

        def _proxy(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            event = api_gateway_event(
                self.command,
                url.path,
                headers=list(self.headers.items()),
                query=url.query,
                body=body,
                source_ip=self.client_address[0],
            )
            with one_invocation_at_a_time:
                result = handler(event, LambdaContext())
            payload = response_body(result)
            self.send_response(int(result.get("statusCode", 502)))
            for name, value in response_headers(result):
                if name.lower() not in {"content-length", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

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
