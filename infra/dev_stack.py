"""`make dev` as a child process for the tools that need a whole local stack (`make postman`, `make screenshots`):
a Redis of its own (fresh rate-limit windows), a fresh moto server, the GitHub stub, a known admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.redis_server import RedisServer
from infra.servers import free_port, wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 90


@contextmanager
def dev_stack(
    admin_email: str, admin_password: str, **environment: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields the API's URL, once /health answers, and the process; stops it (SIGTERM) afterwards."""
    port = free_port()
    with RedisServer() as redis:
        child_environment = os.environ | {
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "ADMIN_EMAIL": admin_email,
            "ADMIN_PASSWORD": admin_password,
            "GITHUB_STUB": "1",  # no request may depend on the internet
            **environment,
        }
        child_environment.pop("DYNAMODB_ENDPOINT_URL", None)  # a fresh moto server of its own
        process = subprocess.Popen([sys.executable, "-m", "infra.dev"], cwd=ROOT, env=child_environment)
        api = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(api + "/health", [process], READY_SECONDS)
            yield api, process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
