"""A throwaway redis-server on its own loopback port, for tests and benchmarks that must stop it."""

from __future__ import annotations

import shutil
import socket

import redis

from infra.local.servers import ChildServer


class RedisServer(ChildServer):
    """`redis-server` with no persistence; `stop()` and `start()` again keep the same port."""

    name = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """An observer for tests."""
        return redis.Redis.from_url(self.url)

    def command(self) -> list[str]:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        return [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
