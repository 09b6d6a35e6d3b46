"""The local stacks as child processes, for the tools and tests that need a whole one: `make dev` (`make postman`,
`make screenshots`: a Redis of its own, a fresh moto server, the GitHub stub, a known admin) and `make sam-local`
(its tests and benchmark)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass
class SamLocalStack:
    api: str  # http://127.0.0.1:<PORT>
    lambda_endpoint: str  # `sam local start-lambda`
    services: dict[str, str]  # the compose services' published endpoints, for tools on this machine
    process: subprocess.Popen[str]
    output: list[str]  # every line it printed so far (a thread drains the pipe: SAM's logs must never block it)

    def stop(self) -> str:
        """SIGTERM, as Ctrl-C or a supervisor would; everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=300)
        return "".join(self.output)


def _drain(process: subprocess.Popen[str], output: list[str], ready: threading.Event) -> None:
    for line in process.stdout or []:
        output.append(line)
        if line.startswith("API (sam local start-api): "):
            ready.set()
    ready.set()  # it exited


@contextmanager
def sam_local_stack(admin_email: str, admin_password: str, **environment: str) -> Iterator[SamLocalStack]:
    """`make sam-local` on free ports, once it is ready; stopped (SIGTERM) afterwards, if it still runs."""
    ports = {name: str(free_port()) for name in ("PORT", "LAMBDA_PORT", "DYNAMODB_PORT", "REDIS_PORT", "SQS_PORT")}
    child_environment = os.environ | ports | {"ADMIN_EMAIL": admin_email, "ADMIN_PASSWORD": admin_password}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.containers.sam_local"],
        cwd=ROOT,
        env=child_environment | environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_drain, args=(process, output, ready), daemon=True).start()
    ready.wait()
    stack = SamLocalStack(
        f"http://127.0.0.1:{ports['PORT']}",
        f"http://127.0.0.1:{ports['LAMBDA_PORT']}",
        {
            "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{ports['DYNAMODB_PORT']}",
            "SQS_ENDPOINT_URL": f"http://127.0.0.1:{ports['SQS_PORT']}",
        },
        process,
        output,
    )
    if process.poll() is not None:
        raise SystemExit("make sam-local exited before it was ready:\n" + "".join(output[-60:]))
    try:
        yield stack
    finally:
        stack.stop()
