"""`make postman`: the Postman collection run by newman against a `make dev` stack this script starts and stops.

python -m infra.postman    (after `npm ci`; the Makefile does both)
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from infra.redis_server import RedisServer
from infra.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
POSTMAN = ROOT / "postman"
ADMIN_EMAIL = "postman-admin@example.com"
READY_SECONDS = 60


def _wait_until_ready(base_url: str, dev: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if dev.poll() is not None:
            raise SystemExit(f"make dev exited with {dev.returncode}")
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"make dev did not answer {base_url}/health within {READY_SECONDS}s")


def main() -> int:
    # A Redis of its own: the collection counts on fresh rate-limit windows (its burst ends in a 429).
    with RedisServer() as redis:
        return run_collection(redis.url)


def run_collection(redis_url: str) -> int:
    port = free_port()
    password = secrets.token_urlsafe(16)
    environment = os.environ | {
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": password,
        "GITHUB_STUB": "1",  # the external request must not depend on the internet
    }
    environment.pop("DYNAMODB_ENDPOINT_URL", None)  # a fresh moto server of its own
    dev = subprocess.Popen([sys.executable, "-m", "infra.dev"], cwd=ROOT, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, dev)
        command = [
            str(ROOT / "node_modules" / ".bin" / "newman"),
            "run",
            str(POSTMAN / "watchlist.postman_collection.json"),
            "--environment",
            str(POSTMAN / "local.postman_environment.json"),
            "--env-var",
            f"baseUrl={base_url}",
            "--env-var",
            f"adminEmail={ADMIN_EMAIL}",
            "--env-var",
            f"adminPassword={password}",
            "--bail",
            "failure",
        ]
        return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
