"""moto in server mode: a real HTTP endpoint on loopback that boto3 and PynamoDB talk to."""

from __future__ import annotations

import sys
import urllib.request

from infra.local.servers import ChildServer


class MotoServer(ChildServer):
    """moto's server, with DynamoDB's atomic writes (infra/local/moto_atomic.py); its state lives in memory only."""

    name = "moto server"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "infra.local.moto_atomic", "-H", "127.0.0.1", "-p", str(self.port)]

    def answers(self) -> bool:
        with urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1):  # noqa: S310 (loopback)
            return True
