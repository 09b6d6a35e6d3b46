"""`make dev`'s local API Gateway over real sockets: what reaches the function, and how answers leave."""

from __future__ import annotations

import http.client
import socket
from typing import Any

import pytest


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
