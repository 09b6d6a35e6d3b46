"""The local front doors over real sockets: `make dev`'s local API Gateway (what reaches the function, and how answers
leave) and `make sam-local`'s proxy in front of `sam local start-api` (what it passes on, and the mailbox beside)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.local.gateway import make_proxy, make_server
from infra.local.instances import PoolClosedError
from infra.local.mailbox import record
from infra.local.servers import free_port


@pytest.mark.parametrize("method", ["TRACE", "PUT", "BREW"])
def test_the_local_gateway_hands_every_method_to_the_function(gateway: int, method: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway, timeout=10)
    connection.request(method, "/health")
    response = connection.getresponse()
    assert (response.status, response.getheader("content-type")) == (405, "application/problem+json")
    assert response.getheader("allow") == "GET, HEAD"
    connection.close()


def test_each_answer_leaves_in_one_write_so_a_kept_alive_connection_never_waits_for_an_ack(
    gateway: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Headers and body written apart meet Nagle's algorithm and the client's delayed ACK: ~40 ms for every
    # answer after the first on a kept-alive connection, which browsers, Postman and httpx all use.
    writes: list[int] = []
    for name in ("send", "sendall"):
        original = getattr(socket.socket, name)

        def spy(sock: socket.socket, data: Any, *args: Any, _original: Any = original) -> Any:
            if sock.family == socket.AF_INET and sock.getsockname()[1] == gateway:
                writes.append(len(data))
            return _original(sock, data, *args)

        monkeypatch.setattr(socket.socket, name, spy)
    connection = http.client.HTTPConnection("127.0.0.1", gateway, timeout=10)
    for _ in range(3):
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b'{"status":"pass"}')
    connection.close()
    assert len(writes) == 3


PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}


def _exchange(port: int, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers=headers)
    return connection.getresponse()


def _assert_gateway_problem(response: http.client.HTTPResponse, status: int, instance: str) -> dict[str, Any]:
    assert response.status == status
    assert response.getheader("content-type") == "application/problem+json"
    problem = json.loads(response.read())
    assert set(problem) == PROBLEM_FIELDS
    assert (problem["status"], problem["instance"]) == (status, instance)
    assert problem["request_id"] == response.getheader("x-request-id")
    return dict(problem)


@pytest.mark.parametrize(
    "headers",
    [{"X-Big": "a" * 70 * 1024}, {f"X-Header-{n}": "v" for n in range(120)}],
    ids=["a-header-over-64-KiB", "over-100-headers"],
)
def test_the_gateways_own_431_is_a_problem_not_an_html_page(gateway: int, headers: dict[str, str]) -> None:
    response = _exchange(gateway, "GET", "/v1/watchlists?limit=1", headers)
    problem = _assert_gateway_problem(response, 431, "/v1/watchlists")
    assert problem["title"] == "Request Header Fields Too Large"
    assert response.getheader("connection") == "close"


def test_a_length_that_is_not_a_number_is_the_gateways_400_problem(gateway: int) -> None:
    response = _exchange(gateway, "POST", "/v1/auth/login", {"Content-Length": "ten"})
    _assert_gateway_problem(response, 400, "/v1/auth/login")


def test_a_failed_invocation_is_the_gateways_502_problem_naming_nothing_inside() -> None:
    class Broken:
        def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
            raise PoolClosedError("internal detail")

    server = make_server(Broken(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = _exchange(server.server_port, "GET", "/health", {})
        problem = _assert_gateway_problem(response, 502, "/health")
        assert "internal" not in problem["detail"]
    finally:
        server.shutdown()
        server.server_close()


def test_the_original_apis_trailing_slash_reaches_the_list_through_the_gateway(gateway: int) -> None:
    plain = _exchange(gateway, "GET", "/v1/watchlists", {})
    slashed = _exchange(gateway, "GET", "/v1/watchlists/", {})
    assert (plain.status, slashed.status) == (401, 401)  # the list's own answer to no token, not a 404
    assert json.loads(slashed.read())["instance"] == "/v1/watchlists"  # served as the resource it names


def _serving(server: HTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture
def front_door_mailbox(tmp_path: Path) -> Path:
    return tmp_path / "mailbox.jsonl"


@pytest.fixture
def proxy(gateway: int, front_door_mailbox: Path) -> Iterator[int]:
    """make sam-local's front door, here in front of make dev's gateway instead of `sam local start-api`."""
    yield from _serving(make_proxy(f"http://127.0.0.1:{gateway}", "127.0.0.1", 0, front_door_mailbox))


def test_the_proxy_passes_each_request_on_as_it_came_and_the_answer_back(proxy: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    body = json.dumps({"email": "nobody@example.com", "password": "not the password 1"})
    connection.request("POST", "/v1/auth/login?x=1", body=body, headers={"Content-Type": "application/json"})
    refused = connection.getresponse()
    problem = json.loads(refused.read())
    assert (refused.status, problem["instance"]) == (401, "/v1/auth/login")
    assert refused.getheader("x-request-id") == problem["request_id"]
    assert refused.getheader("x-local-instance")  # the upstream's own headers come back
    assert len(refused.headers.get_all("date") or []) == 1  # the front door's own, not a second one
    connection.request("GET", "/health")  # the same kept-alive connection
    assert connection.getresponse().read() == b'{"status":"pass"}'
    connection.close()


def test_the_proxy_serves_the_mailbox_itself(proxy: int, front_door_mailbox: Path) -> None:
    record(
        front_door_mailbox, "ann@example.com", "Reset your Watchlist password", "http://127.0.0.1:8501/reset?token=a.b"
    )
    listed = _exchange(proxy, "GET", "/_local/mailbox", {})
    assert (listed.status, listed.getheader("cache-control")) == (200, "no-store")
    assert [message["to"] for message in json.loads(listed.read())] == ["ann@example.com"]
    page = _exchange(proxy, "GET", "/_local/mailbox", {"Accept": "text/html"})
    assert page.getheader("content-type") == "text/html; charset=utf-8"
    assert 'href="http://127.0.0.1:8501/reset?token=a.b"' in page.read().decode()
    # Another method is the API's to answer, as on make dev's gateway: the path is none of its.
    assert _exchange(proxy, "POST", "/_local/mailbox", {}).status == 404


def test_the_proxy_answers_an_upstream_that_is_gone_with_a_502_problem(front_door_mailbox: Path) -> None:
    for port in _serving(make_proxy(f"http://127.0.0.1:{free_port()}", "127.0.0.1", 0, front_door_mailbox)):
        problem = _assert_gateway_problem(_exchange(port, "GET", "/health", {}), 502, "/health")
        assert "refused" not in problem["detail"].lower()
