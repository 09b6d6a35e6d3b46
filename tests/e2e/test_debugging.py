"""The debugging set-ups: `make debug` serves the API with a debug adapter listening, and VS Code's configurations
run what they name."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator

import pytest

from infra import ROOT
from infra.local.redis_server import RedisServer
from infra.local.servers import free_port, stop_process, wait_until_answering

LAUNCH = ROOT / ".vscode" / "launch.json"


@pytest.fixture
def make_debug() -> Iterator[tuple[int, int, subprocess.Popen[bytes]]]:
    api_port, debug_port = free_port(), free_port()
    with RedisServer() as redis:
        environment = os.environ | {"PORT": str(api_port), "REDIS_URL": redis.url, "GITHUB_STUB": "1"}
        environment.pop("DYNAMODB_ENDPOINT_URL", None)
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            ["make", "--no-print-directory", "debug", f"DEBUG_PORT={debug_port}"],  # noqa: S607 (make from the PATH)
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        try:
            yield api_port, debug_port, process
        finally:
            stop_process(process)


def test_make_debug_serves_the_api_with_a_debug_adapter_listening(
    make_debug: tuple[int, int, subprocess.Popen[bytes]],
) -> None:
    api_port, debug_port, process = make_debug
    wait_until_answering(f"http://127.0.0.1:{api_port}/health", [process], 90)
    request = json.dumps({"seq": 1, "type": "request", "command": "initialize", "arguments": {"adapterID": "test"}})
    with socket.create_connection(("127.0.0.1", debug_port), timeout=10) as adapter:
        adapter.sendall(f"Content-Length: {len(request)}\r\n\r\n{request}".encode())
        received = b""
        while b'"command": "initialize"' not in received:  # the answer, after the adapter's own events
            chunk = adapter.recv(65536)
            assert chunk, received
            received += chunk
    assert b'"success": true' in received


def test_the_vscode_configurations_run_modules_and_files_that_exist() -> None:
    configurations = json.loads(re.sub(r"^\s*//.*$", "", LAUNCH.read_text(), flags=re.MULTILINE))["configurations"]
    launched = [configuration for configuration in configurations if configuration["request"] == "launch"]
    assert {configuration["module"] for configuration in launched} == {
        "infra.commands.dev",
        "infra.commands.invoke",
        "pytest",
    }
    for configuration in launched:
        assert configuration["python"] == "${workspaceFolder}/.venv/bin/python"
        if configuration["module"].startswith("infra."):
            assert (ROOT / (configuration["module"].replace(".", "/") + ".py")).exists()
    (attach,) = [configuration for configuration in configurations if configuration["request"] == "attach"]
    assert attach["connect"]["port"] == 5678  # make debug's DEBUG_PORT default
    assert "DEBUG_PORT ?= 5678" in (ROOT / "Makefile").read_text()
