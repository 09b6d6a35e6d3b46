"""The Streamlit front end as a process on this machine, beside `make dev` or `make sam-local` (FRONTEND=1).
`docker compose up` runs it in a container of its own instead (frontend/Dockerfile)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from infra import ROOT
from infra.local.servers import child_process


@contextmanager
def streamlit(api_url: str, host: str, port: str) -> Iterator[subprocess.Popen[bytes]]:
    """Streamlit serving frontend/app.py on host:port for the API at `api_url`, until we leave."""
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "frontend" / "app.py")]
    command += ["--server.headless", "true", "--server.address", host, "--server.port", port]
    command += ["--browser.gatherUsageStats", "false"]
    with child_process(command, env=os.environ | {"WATCHLIST_API_URL": api_url}) as process:
        yield process
