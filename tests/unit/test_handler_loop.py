"""The API handler and Mangum's event loop: Mangum 0.22 asks `asyncio.get_event_loop()` for the thread's loop when it
is built and on every request. With no loop set, that is a DeprecationWarning on 3.12 and 3.13 and a RuntimeError on
3.14, so the handler sets its own first. Run where no test has set a loop (a new process), with the warning an error:
what 3.13 would have warned about fails as it would on 3.14."""

from __future__ import annotations

import os
import subprocess
import sys

# Imports the handler, invokes it; then what unsets the thread's loop (asyncio.run() does, as it ends), an invocation
# after it, and a Mangum built after it (as tests/support.py's cold_started_handler builds one).
INVOKED = """
import asyncio
import watchlist_api.handler as h
from mangum import Mangum
from infra.local.events import LambdaContext, api_gateway_event

def health(handler):
    return handler(api_gateway_event("GET", "/health"), LambdaContext())["statusCode"]

print(health(h.handler))
asyncio.run(asyncio.sleep(0))
print(health(h.handler))
h.asgi_handler = Mangum(h.asgi_handler.app, lifespan="off")
print(health(h.handler))
"""


def test_the_handler_runs_with_deprecation_warnings_as_errors() -> None:
    run = subprocess.run(  # noqa: S603 (our own code)
        [sys.executable, "-W", "error::DeprecationWarning", "-c", INVOKED],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stdout.splitlines() if line.isdigit()] == ["200", "200", "200"]  # among the logs
    assert "Warning" not in run.stderr
