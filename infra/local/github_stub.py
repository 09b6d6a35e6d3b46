"""A stand-in for the GitHub REST API on loopback (real sockets): for the tests, and `GITHUB_STUB=1 make dev`.

Known users get their profile with a weak ETag, and 304 when `If-None-Match` carries it; unknown users get
404. Scripted replies for a username (slow, 5xx, rate limits, malformed JSON) are used first, in order.
Every request is recorded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

DEMO_USERS = {
    "octocat": {"name": "The Octocat", "public_repos": 8, "followers": 20000},
    "torvalds": {"name": "Linus Torvalds", "public_repos": 9, "followers": 250000},
}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    client_port: int  # one port per TCP connection: shows whether the client kept its connection alive


def profile(login: str, **fields: Any) -> dict[str, Any]:
    return {
        "login": login,
        "id": 1,
        "name": None,
        "public_repos": 0,
        "followers": 0,
        "html_url": f"https://github.com/{login}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/1?login={login}",
        "type": "User",
    } | fields


class GitHubStub:
    def __init__(self, users: dict[str, dict[str, Any]] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._users = {login.lower(): profile(login, **fields) for login, fields in (users or {}).items()}
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-stub", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def add_user(self, login: str, **fields: Any) -> dict[str, Any]:
        self._users[login.lower()] = profile(login, **fields)
        return self._users[login.lower()]

    def script(self, username: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts.setdefault(username.lower(), deque()).extend(replies)

    def requests_for(self, username: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.lower() == f"/users/{username.lower()}"]

    def _answer(self, request: RecordedRequest) -> Reply:
        path, headers = request.path, request.headers
        username = path.removeprefix("/users/").lower()
        with self._lock:
            self.requests.append(request)
            scripted = self._scripts.get(username)
            if scripted:
                return scripted.popleft()
        user = self._users.get(username) if path.startswith("/users/") else None
        if user is None:
            return Reply(404, json.dumps({"message": "Not Found", "status": "404"}).encode())
        body = json.dumps(user).encode()
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        if headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/json; charset=utf-8"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as GitHub offers
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = stub._answer(RecordedRequest(self.path, headers, self.client_address[1]))
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    """`python -m infra.local.github_stub --host 0.0.0.0 --port 8080`: the demo users, until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda signum, frame: sys.exit(0))
    with GitHubStub(DEMO_USERS, args.host, args.port):
        print(f"GitHub stub on {args.host}:{args.port} (users: {', '.join(DEMO_USERS)})", flush=True)
        signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
