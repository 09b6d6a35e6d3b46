"""moto in server mode: a real HTTP endpoint on loopback that boto3 and PynamoDB talk to."""

from __future__ import annotations

import sys
import urllib.request

from infra.local.servers import ChildServer


class MotoServer(ChildServer):
    """moto's server, with DynamoDB's atomic writes (infra/local/moto_atomic.py); its state lives in memory only."""

    name = "moto server"

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        """`host`: the address it listens on (loopback; sam local's containers reach it at their network's
        gateway)."""
        super().__init__(port)
        self.host = host

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "infra.local.moto_atomic", "-H", self.host, "-p", str(self.port)]

    def answers(self) -> bool:
        with urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1):  # noqa: S310 (loopback)
            return True
