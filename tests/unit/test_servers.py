"""Waiting for services started beside us (`make dev` in its container, before DynamoDB Local listens)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from infra.local.servers import free_port, wait_until_listening


def test_waits_for_a_service_that_starts_listening_later_and_says_so_once() -> None:
    port = free_port()
    said: list[str] = []
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def start_late() -> None:
        time.sleep(0.5)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    starter = threading.Thread(target=start_late)
    starter.start()
    try:
        wait_until_listening([f"http://127.0.0.1:{port}", f"redis://127.0.0.1:{port}/0"], 10, said.append)
    finally:
        starter.join()
        listener.close()
    assert said == [f"waiting for http://127.0.0.1:{port}"]


def test_gives_up_on_a_service_that_never_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SystemExit, match=r"did not accept connections within 0\.5s"):
        wait_until_listening([url], 0.5, lambda line: None)
