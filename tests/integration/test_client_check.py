"""`make client-check URL=...` (infra/commands/client_check.py): the generated client's flow against an API over HTTP,
its verdict in the exit code. The flow's own checks are tests/integration/test_generated_clients.py's."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from infra import ROOT
from infra.commands.client_check import STEPS, main


def test_the_command_generates_the_client_from_the_api_and_runs_the_flow(
    gateway: int, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{gateway}/"
    assert main([url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["ok", "generate"]
    assert [line.split()[0] for line in lines[1:-1]] == ["ok"] * len(STEPS)
    assert lines[-1].startswith(f"client-check against {url} (success+client-")
    assert lines[-1].endswith(f"@simulator.amazonses.com): passed ({len(STEPS)} steps)")


def test_the_command_fails_where_no_api_answers() -> None:
    with socket.socket() as bound:  # a port of ours, bound but not listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/Prod/"
        done = subprocess.run(  # noqa: S603 (our own command line)
            [sys.executable, "-m", "infra.commands.client_check", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"client-check against {url}: FAILED at 'generate client'"
    assert "no answer (ConnectError)" in done.stdout
