"""The whole local stacks as child processes, the one way the tools and tests that need one run them: `make dev`
(for `make postman`, `make screenshots`, the e2e tests and the benchmarks) and `make sam-local` (its tests and
benchmark). Their output is drained by a thread, kept and echoed, so that their logs can never fill a pipe and
block them; leaving the context stops them (SIGTERM, as Ctrl-C or a supervisor would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra import ROOT
from infra.local.redis_server import RedisServer
from infra.local.servers import free_port, stop_process, wait_until_answering

READY_SECONDS = 90
SAM_LOCAL_STOP_SECONDS = 300
COMPOSE_READY_SECONDS = 900  # the first `up` builds the API's and the front end's images
COMPOSE_STOP_SECONDS = 60  # it stops SAM, its containers, compose and perhaps a private Docker engine


@dataclass
class LocalStack:
    api: str  # http://127.0.0.1:<PORT>
    process: subprocess.Popen[str]
    output: list[str]  # every line it printed so far
    drainer: threading.Thread  # reads its output until it and its children exit
    lambda_endpoint: str = ""  # make sam-local: `sam local start-lambda`
    services: dict[str, str] = field(default_factory=dict)  # make sam-local: the compose services' endpoints
    stop_seconds: float = 30
    stop_signal: int = signal.SIGTERM

    def stop(self) -> str:
        """`stop_signal` (killed if it has not stopped in `stop_seconds`); everything it printed."""
        stop_process(self.process, self.stop_signal, grace_seconds=self.stop_seconds)
        self.drainer.join(timeout=self.stop_seconds)
        return "".join(self.output)


def _start(
    command: list[str],
    environment: dict[str, str],
    ready_line: str,
    ready_seconds: float | None = None,
    root: Path = ROOT,
) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """`command`, once it printed a line holding `ready_line`; fails if it exits first, or when `ready_seconds`
    pass."""
    process = subprocess.Popen(  # noqa: S603 (our own modules, docker compose)
        command,
        cwd=root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        for line in process.stdout or []:
            output.append(line)
            sys.stdout.write(line)
            if ready_line in line:
                ready.set()
        ready.set()  # it exited

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    if not ready.wait(ready_seconds) or process.poll() is not None:
        stop_process(process)
        raise SystemExit(f"{' '.join(command)} was not ready:\n" + "".join(output[-60:]))
    return process, output, drainer


@contextmanager
def dev_stack(admin_email: str, admin_password: str, **environment: str) -> Iterator[LocalStack]:
    """`make dev` on a free port, ready once /health answers: a Redis of its own unless REDIS_URL is given, a fresh
    moto server unless DYNAMODB_ENDPOINT_URL is, the GitHub stub (no request may depend on the internet)."""
    with dev_stack_in(ROOT, admin_email, admin_password, **environment) as running:
        yield running


@contextmanager
def dev_stack_in(root: Path, admin_email: str, admin_password: str, **environment: str) -> Iterator[LocalStack]:
    """`dev_stack` in a copy of the project at `root` (with a PYTHONPATH to the copy's import roots)."""
    port = free_port()
    with ExitStack() as stack:
        child_environment = os.environ | {
            "PORT": str(port),
            "ADMIN_EMAIL": admin_email,
            "ADMIN_PASSWORD": admin_password,
            "GITHUB_STUB": "1",
        }
        child_environment.pop("DYNAMODB_ENDPOINT_URL", None)
        if "REDIS_URL" not in environment:
            child_environment["REDIS_URL"] = stack.enter_context(RedisServer()).url
        running = LocalStack(
            f"http://127.0.0.1:{port}",
            *_start(
                [sys.executable, "-m", "infra.commands.dev"],
                child_environment | environment,
                "API (through the Lambda handler",
                READY_SECONDS,
                root,
            ),
        )
        stack.callback(running.stop)
        wait_until_answering(running.api + "/health", [running.process], READY_SECONDS)
        yield running


@contextmanager
def sam_local_stack(admin_email: str, admin_password: str, **environment: str) -> Iterator[LocalStack]:
    """`make sam-local` on free ports, once it is ready."""
    ports = {name: str(free_port()) for name in ("PORT", "LAMBDA_PORT", "DYNAMODB_PORT", "SQS_PORT")}
    child_environment = os.environ | ports | {"ADMIN_EMAIL": admin_email, "ADMIN_PASSWORD": admin_password}
    running = LocalStack(
        f"http://127.0.0.1:{ports['PORT']}",
        *_start(
            [sys.executable, "-m", "infra.containers.sam_local"],
            child_environment | environment,
            "API (sam local start-api): ",
        ),
        lambda_endpoint=f"http://127.0.0.1:{ports['LAMBDA_PORT']}",
        services={
            "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{ports['DYNAMODB_PORT']}",
            "SQS_ENDPOINT_URL": f"http://127.0.0.1:{ports['SQS_PORT']}",
        },
        stop_seconds=SAM_LOCAL_STOP_SECONDS,
    )
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def compose_stack(
    admin_email: str, admin_password: str, compose: list[str], environment: dict[str, str]
) -> Iterator[LocalStack]:
    """`docker compose up --build` in the foreground (`compose`: the compose command with its files; `environment`:
    the engine's and the images'), on free ports, once the API answers; leaving sends Ctrl-C's SIGINT, as a user
    stops it. `services` holds the front end's URL."""
    ports = {name: str(free_port()) for name in ("API_PORT", "FRONTEND_PORT", "DYNAMODB_PORT", "SQS_PORT")}
    child_environment = environment | ports | {"ADMIN_EMAIL": admin_email, "ADMIN_PASSWORD": admin_password}
    running = LocalStack(
        f"http://127.0.0.1:{ports['API_PORT']}",
        *_start(
            [*compose, "up", "--build"], child_environment, "API (through the Lambda handler", COMPOSE_READY_SECONDS
        ),
        services={"FRONTEND_URL": f"http://127.0.0.1:{ports['FRONTEND_PORT']}"},
        stop_seconds=COMPOSE_STOP_SECONDS,
        stop_signal=signal.SIGINT,
    )
    try:
        wait_until_answering(running.api + "/health", [running.process], READY_SECONDS)
        yield running
    finally:
        running.stop()
