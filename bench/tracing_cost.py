"""What tracing costs: a cold start's first invocation, and warm invocations, with tracing off and on.

On: spans to an X-Ray endpoint that is a UDP socket here (as Lambda's, AWS_XRAY_DAEMON_ADDRESS), under a sampled
`_X_AMZN_TRACE_ID`, as in Lambda with `Tracing: Active`. Cold: fresh processes of the runtime-only venv (the
deployed dependencies) alternating off and on, importing the handler and invoking GET /health. Beside them, for
the choice of provider: importing Powertools' Tracer with the X-Ray SDK (in the development venv, where moto put
the SDK). Warm: one process on the moto server and a redis-server, rounds alternating off and on, for an uncached
20-item list and an item POST (its DynamoDB transaction and SQS send each a span, its Redis round trips too).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench._common import ReaderAndWriter, captured_output, describe, local_stack, uncached
from infra.local.events import LambdaContext, api_gateway_event
from tests.support import Api
from watchlist_core import tracing

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = ROOT / ".venv-runtime" / "bin" / "python"
PYTHON = str(RUNTIME_PYTHON) if RUNTIME_PYTHON.exists() else sys.executable
COLD_ROUNDS = 15
WARM_ROUNDS = 20
PER_ROUND = 10
SEGMENT = "Root=1-6931a6c2-1c2d3e4f5a6b7c8d9e0f1a2b;Parent=53995c3f42cd8ad8;Sampled=1"
FIRST_INVOCATION = (
    "import time; s = time.perf_counter(); import watchlist_api.handler as h; "
    "from infra.local.events import LambdaContext, api_gateway_event; "
    "assert h.handler(api_gateway_event('GET', '/health'), LambdaContext())['statusCode'] == 200; "
    "print(time.perf_counter() - s)"
)
XRAY_SDK_IMPORT = (
    "import time; s = time.perf_counter(); import watchlist_api.handler; "
    "from aws_lambda_powertools import Tracer; import aws_xray_sdk.core; print(time.perf_counter() - s)"
)
HANDLER_IMPORT = "import time; s = time.perf_counter(); import watchlist_api.handler; print(time.perf_counter() - s)"


class Sink:
    """A UDP socket standing for Lambda's X-Ray endpoint, drained by a thread."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.datagrams = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                self.socket.recv(65536)
            except OSError:
                return
            self.datagrams += 1


def seconds(python: str, code: str, environment: dict[str, str]) -> float:
    result = subprocess.run([python, "-c", code], env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    return float(result.stdout)


def cold(sink: Sink) -> None:
    base = os.environ | {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "local",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never contacted by GET /health
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_LAMBDA_FUNCTION_NAME": "watchlist-api",
    }
    on = base | {"AWS_XRAY_DAEMON_ADDRESS": sink.address, "_X_AMZN_TRACE_ID": SEGMENT}
    samples: dict[str, list[float]] = {"off": [], "on": [], "import": [], "import + X-Ray SDK": []}
    for _ in range(COLD_ROUNDS):
        samples["off"].append(seconds(PYTHON, FIRST_INVOCATION, base))
        samples["on"].append(seconds(PYTHON, FIRST_INVOCATION, on))
        samples["import"].append(seconds(sys.executable, HANDLER_IMPORT, base))
        samples["import + X-Ray SDK"].append(seconds(sys.executable, XRAY_SDK_IMPORT, base))
    ratio = statistics.median(b / a for a, b in zip(samples["off"], samples["on"], strict=True))
    sdk = statistics.median(b / a for a, b in zip(samples["import"], samples["import + X-Ray SDK"], strict=True))
    print(f"cold start, import + first invocation (GET /health), {PYTHON}, n={COLD_ROUNDS} each:")
    for name in ("off", "on"):
        print(f"  tracing {name:4} median {statistics.median(samples[name]) * 1000:7.1f} ms")
    print(f"  on / off: {ratio:.3f}x (median of the rounds' ratios)")
    print(
        f"  for comparison (development venv): importing the handler {statistics.median(samples['import']) * 1000:.1f}"
        f" ms; with Powertools' Tracer and the X-Ray SDK {statistics.median(samples['import + X-Ray SDK']) * 1000:.1f}"
        f" ms: {sdk:.3f}x"
    )


def warm(sink: Sink) -> None:
    with local_stack():
        from watchlist_api.handler import handler

        callers = ReaderAndWriter.signed_up(Api(handler))
        list_event, post_headers = callers.list_event, callers.writer_headers
        post_body = b'{"title": "Benchmark", "type": "show"}'
        samples: dict[str, list[float]] = {f"{case} {mode}": [] for case in ("list", "POST") for mode in ("off", "on")}
        os.environ["_X_AMZN_TRACE_ID"] = SEGMENT
        with captured_output():
            for round_number in range(WARM_ROUNDS + 2):  # the first round of each mode warms up
                for mode in ("off", "on"):
                    tracing.configure("xray" if mode == "on" else "off", sink.address)
                    for _ in range(PER_ROUND):
                        uncached(callers.reader_id)
                        started = time.perf_counter()
                        assert handler(list_event, LambdaContext())["statusCode"] == 200
                        listed = time.perf_counter() - started
                        post = api_gateway_event("POST", "/v1/watchlists/items", headers=post_headers, body=post_body)
                        started = time.perf_counter()
                        assert handler(post, LambdaContext())["statusCode"] == 201
                        posted = time.perf_counter() - started
                        if round_number >= 2:
                            samples[f"list {mode}"].append(listed * 1000)
                            samples[f"POST {mode}"].append(posted * 1000)
        tracing.configure("off")
    print(f"\nwarm handler(event), moto and redis-server, rounds alternating (n={WARM_ROUNDS * PER_ROUND} each):")
    for case in ("list", "POST"):
        off, on = describe(samples[f"{case} off"]), describe(samples[f"{case} on"])
        added = on["median"] - off["median"]
        print(
            f"  {case:5} off median {off['median']:6.2f} ms p99 {off['p99']:6.2f}   on median {on['median']:6.2f} ms "
            f"p99 {on['p99']:6.2f}   on - off {added:+.2f} ms ({on['median'] / off['median']:.3f}x)"
        )
    print(f"  datagrams the endpoint received: {sink.datagrams}")


if __name__ == "__main__":
    endpoint = Sink()
    cold(endpoint)
    warm(endpoint)
