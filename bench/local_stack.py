"""What `make dev`'s local gateway adds to a request: the same requests in-process (handler(event)) and over real
HTTP through the gateway, kept alive or on a new connection each, from 1 and from 10 clients at once.

python bench/local_stack.py [rounds]
"""

from __future__ import annotations

import http.client
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bench._common import captured_output, interleaved, local_stack, uncached
from infra.local.events import LambdaContext, api_gateway_event
from infra.local.gateway import make_server
from infra.local.instances import InProcessInstance
from tests.support import Api

CLIENTS = 10


def timed(prepare: Callable[[], None], action: Callable[[], object], rounds: int) -> list[float]:
    """Milliseconds of `action`, `rounds` times, each after `prepare` (not timed)."""
    samples = []
    for _ in range(rounds):
        prepare()
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def over_http(port: int, path: str, headers: dict[str, str], *, keep_alive: bool) -> Callable[[], None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request() -> None:
        nonlocal connection
        if not keep_alive:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        if not keep_alive:
            connection.close()

    return request


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with local_stack():
        from watchlist_api.handler import handler

        server = make_server(InProcessInstance(handler), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_port
        api = Api(handler)
        with captured_output():
            user, token = api.new_user()
            for number in range(50):
                api.post("/v1/watchlists/items", token=token, json={"title": f"Film {number}", "type": "movie"})
        auth = {"Authorization": f"Bearer {token}"}
        cases: dict[str, tuple[str, Callable[[], None]]] = {
            "GET /health": ("/health", lambda: None),
            "cached GET /v1/watchlists?limit=50": ("/v1/watchlists?limit=50", lambda: None),
            "uncached GET /v1/watchlists?limit=50": ("/v1/watchlists?limit=50", lambda: uncached(user["id"])),
        }
        print(f"\n{'request':38} {'in-process':>10} {'keep-alive':>10} {'new conn':>9} {'x':>5}   {CLIENTS} clients")
        for name, (path, prepare) in cases.items():
            route, _, query = path.partition("?")
            event = api_gateway_event("GET", route, headers=list(auth.items()), query=query)
            calls: dict[str, Callable[[], object]] = {
                "in-process": partial(handler, event, LambdaContext()),
                "kept": over_http(port, path, auth, keep_alive=True),
                "new": over_http(port, path, auth, keep_alive=False),
            }
            with captured_output():
                medians = {label: statistics.median(v) for label, v in interleaved(calls, rounds, prepare).items()}
            clients = [over_http(port, path, auth, keep_alive=True) for _ in range(CLIENTS)]
            started = time.perf_counter()
            with captured_output(), ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                per_client = list(pool.map(partial(timed, prepare, rounds=rounds // CLIENTS), clients))
            throughput = sum(len(samples) for samples in per_client) / (time.perf_counter() - started)
            concurrent_median = statistics.median(sample for samples in per_client for sample in samples)
            print(
                f"{name:38} {medians['in-process']:10.2f} {medians['kept']:10.2f} {medians['new']:9.2f} "
                f"{medians['kept'] / medians['in-process']:5.2f}   {concurrent_median:.2f} ms, {throughput:.0f} req/s"
            )
        server.shutdown()
    print(
        "ms, medians of calls taken in turn (in-process, kept alive, new connection). x: kept-alive HTTP over "
        "in-process (target <= 1.5). The HTTP client (http.client) runs in this process. One instance: 10 clients "
        "queue for it."
    )


if __name__ == "__main__":
    main()
