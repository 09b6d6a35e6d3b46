"""`make sam-local` beside `make dev`, in one run: time until /health answers, the first requests after that, and
warm requests (one new connection each, interleaved so that machine noise falls on both alike).

python bench/sam_local.py [rounds]     (needs a Docker engine, or root to start one; `make bench` runs it)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench._common import describe, interleaved
from infra.commands.dev_stack import dev_stack, sam_local_stack
from tests.support import http_request

ADMIN = ("bench-admin@example.com", "bench admin password 1")


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    status, _, answer = http_request(base, path, token, body, method)
    assert status < 300, (status, answer)
    return json.loads(answer or b"null")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    figures: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    with dev_stack(*ADMIN, RATE_LIMIT_USER="1000000/60") as dev_running:
        dev = dev_running.api
        figures["make dev"] = {"ready s": time.perf_counter() - started}
        started = time.perf_counter()
        with sam_local_stack(*ADMIN) as sam_stack:
            sam = sam_stack.api
            figures["make sam-local"] = {"ready s": time.perf_counter() - started}
            tokens = {}
            for name, base in (("make dev", dev), ("make sam-local", sam)):
                login = {"email": ADMIN[0], "password": ADMIN[1]}
                figures[name]["first login ms"] = timed(partial(call, base, "POST", "/v1/auth/login", login))
                tokens[name] = call(base, "POST", "/v1/auth/login", login)["access_token"]
                item = {"title": "Benchmark", "type": "movie"}
                figures[name]["first create ms"] = timed(
                    partial(call, base, "POST", "/v1/watchlists/items", item, tokens[name])
                )
            requests = {
                f"{name} {label}": partial(call, base, "GET", path, token=tokens[name])
                for name, base in (("make dev", dev), ("make sam-local", sam))
                for label, path in (("GET /health", "/health"), ("GET /v1/watchlists", "/v1/watchlists"))
            }
            warm = interleaved(requests, rounds)
    print(f"\n{'stack':16} {'ready s':>8} {'first login ms':>15} {'first create ms':>16}")
    for name, values in figures.items():
        print(f"{name:16} {values['ready s']:8.1f} {values['first login ms']:15.1f} {values['first create ms']:16.1f}")
    print(f"\n{'warm, new connection each':34} {'median ms':>10} {'p99 ms':>8}")
    for name, samples in warm.items():
        summary = describe(samples)
        print(f"{name:34} {summary['median']:10.2f} {summary['p99']:8.2f}")
    for label in ("GET /health", "GET /v1/watchlists"):
        ratio = describe(warm[f"make sam-local {label}"])["median"] / describe(warm[f"make dev {label}"])["median"]
        print(f"sam-local / dev, {label}: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
