"""Local services (moto, redis-server) as child processes on loopback ports, started and stopped cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from infra import ROOT

READY_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], stop_signal: int = signal.SIGTERM, grace_seconds: float = 10) -> None:
    """Asks a child process to stop (`stop_signal`), kills it if it has not within the grace period, reaps it."""
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def child_process(
    argv: list[str], *, stop_signal: int = signal.SIGTERM, grace_seconds: float = 10, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process (sharing this one's output unless `popen` says otherwise), stopped when we leave."""
    process = subprocess.Popen(argv, **popen)  # noqa: S603 (our own programs, fixed argv)
    try:
        yield process
    finally:
        stop_process(process, stop_signal, grace_seconds)


def wait_until_answering(url: str, processes: Sequence[subprocess.Popen[Any]], seconds: float) -> None:
    """Until `url` answers 200; fails if one of `processes` exits first, or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (our own local servers)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:g}s")


def wait_until_listening(urls: Sequence[str], seconds: float, say: Callable[[str], None]) -> None:
    """Until each URL's host accepts connections on its port (services starting beside us); says what it waits for."""
    deadline = time.monotonic() + seconds
    for url in urls:
        address = urlsplit(url)
        waiting = False
        while True:
            try:
                socket.create_connection((address.hostname, address.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not accept connections within {seconds:g}s") from None
                if not waiting:
                    say(f"waiting for {url}")
                    waiting = True
                time.sleep(0.3)


class ChildServer:
    """A server process on `port`; subclasses say how to start it and how to tell it is ready."""

    name = "server"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        self._process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            self.command(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self._process.returncode}")
            try:
                if self.answers():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {READY_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        if self._process:
            stop_process(self._process)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing said to anyone on the way out."""
        if self._process:
            stop_process(self._process, signal.SIGKILL)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel does), nothing answers: a hung server."""
        if self._process:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process:
            self._process.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
