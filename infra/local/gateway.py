"""A local API Gateway: each HTTP request becomes a proxy event handed to a Lambda instance (infra/local/instances.py).

Connections are served concurrently (a client holding a keep-alive connection must not block the others); each
instance runs one invocation at a time, as in AWS. The response says which instance answered
(`X-Local-Instance`), so concurrency can be seen.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.local.events import api_gateway_event, response_body, response_headers
from infra.local.instances import Instances


def make_server(instances: Instances, host: str, port: int) -> HTTPServer:
    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "watchlist-local-gateway"
        # A response leaves in one write, with Nagle off: headers and body written apart on a kept-alive
        # connection made every response after the first wait ~40 ms for the client's delayed ACK.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

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
            result, instance = instances.invoke(event)
            payload = response_body(result)
            self.send_response(int(result.get("statusCode", 502)))
            for name, value in response_headers(result):
                if name.lower() not in {"content-length", "connection"}:
                    self.send_header(name, value)
            self.send_header("X-Local-Instance", str(instance))
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
