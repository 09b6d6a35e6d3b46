"""Cold start: importing the API handler module (which builds the app) against a floor, in fresh processes.

Floor: a process that only imports fastapi, mangum and pynamodb. Runs in a runtime-only environment
(`.venv-runtime`, the deployed dependencies and nothing else) when it exists, else this interpreter.
Rounds alternate the two so machine noise falls on both alike.
"""

from __future__ import annotations

import functools
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = ROOT / ".venv-runtime" / "bin" / "python"
PYTHON = str(RUNTIME_PYTHON) if RUNTIME_PYTHON.exists() else sys.executable
ROUNDS = 25
TIMED = "import time; s = time.perf_counter(); {imports}; print(time.perf_counter() - s)"
FLOOR = "floor (fastapi, mangum, pynamodb)"
HANDLER = "handler (import + build app)"
# Not the target's floor: shows what any FastAPI app with one validated route pays on top of the imports
# (FastAPI's route registration imports pydantic.v1 to rule out v1 models, for one).
ONE_ROUTE_APP = (
    "import fastapi, mangum, pynamodb.models; app = fastapi.FastAPI(); "
    "app.get('/items/{item_id}')(lambda item_id: {'id': item_id}); mangum.Mangum(app, lifespan='off')"
)
# What a cold start really costs before answering: the first invocation also binds the PynamoDB records, here for
# GET /health, which uses no service (each is built by the first request that uses it) and no dependency.
FIRST_INVOCATION = (
    "import watchlist_api.handler as h; from infra.local.events import LambdaContext, api_gateway_event; "
    "h.handler(api_gateway_event('GET', '/health'), LambdaContext())"
)
SUBJECTS = {
    FLOOR: "import fastapi, mangum, pynamodb.models",
    "bare app, one route (reference)": ONE_ROUTE_APP,
    HANDLER: "import watchlist_api.handler",
    "handler + first invocation (reference)": FIRST_INVOCATION,
}
ENV = os.environ | {
    "AWS_REGION": "us-east-1",
    "STAGE": "local",
    "JWT_SECRET": secrets.token_urlsafe(48),  # the API function's init refuses to start without a key
    "AWS_DEFAULT_REGION": "us-east-1",
    "REDIS_URL": "redis://127.0.0.1:1/0",  # the deployed client (never contacted by GET /health)
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def timed_import(imports: str, interpreter: tuple[str, ...] = (PYTHON,), environment: dict[str, str] = ENV) -> float:
    command = [*interpreter, "-c", TIMED.format(imports=imports)]
    return float(subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout)  # noqa: S603


def interleaved[K](subjects: dict[K, Callable[[], float]]) -> dict[K, list[float]]:
    """ROUNDS of every subject in turn, so that the machine's drift falls on all alike."""
    samples: dict[K, list[float]] = {key: [] for key in subjects}
    for _ in range(ROUNDS):
        for key, measure in subjects.items():
            samples[key].append(measure())
    return samples


def paired_ratio(values: list[float], baselines: list[float]) -> float:
    """The median of the rounds' own ratios: this machine's speed drifts by tens of percent between runs, so only
    a ratio within one round (the same few seconds) is stable."""
    return statistics.median(value / baseline for value, baseline in zip(values, baselines, strict=True))


def import_times(imports: str) -> dict[str, int]:
    """Microseconds each module's own import took (excluding its imports), from `python -X importtime`."""
    command = [PYTHON, "-X", "importtime", "-c", imports]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, check=True)  # noqa: S603
    times: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.split("|")
        times[name.strip()] = int(own.split(":")[1])
    return times


def main() -> None:
    print(f"interpreter: {PYTHON}")
    samples = interleaved({name: functools.partial(timed_import, imports) for name, imports in SUBJECTS.items()})
    for name, values in samples.items():
        print(
            f"{name:40} median {statistics.median(values) * 1000:7.1f} ms   min {min(values) * 1000:7.1f} ms   "
            f"x floor {paired_ratio(values, samples[FLOOR]):.2f} (median of the rounds' ratios)   n={len(values)}"
        )
    print(f"ratio handler/floor: {paired_ratio(samples[HANDLER], samples[FLOOR]):.2f}x   target <= 1.2x")

    floor_modules = import_times(SUBJECTS[FLOOR])
    ours = import_times(SUBJECTS[HANDLER])
    added = sorted(((t, m) for m, t in ours.items() if m not in floor_modules), reverse=True)
    print(f"\nmodules the handler imports beyond the floor: {len(added)}, {sum(t for t, _ in added) / 1000:.1f} ms")
    print("the 15 slowest, by their own import time (building the routes counts in the router modules):")
    for own, module in added[:15]:
        print(f"  {own / 1000:7.1f} ms  {module}")


# The first write of a cold instance also builds the SQS client for the audit queue: on the botocore session
# that PynamoDB's DynamoDB client already warmed (as the API does), or on a fresh one.
SQS_CLIENT = (
    "import time, boto3, botocore.session; import watchlist_api.handler; "
    "dynamodb_session = botocore.session.get_session(); dynamodb_session.create_client('dynamodb'); "
    "s = time.perf_counter(); boto3.session.Session(botocore_session={session}).client('sqs'); "
    "print(time.perf_counter() - s)"
)


def sqs_client_cost() -> None:
    samples: dict[str, list[float]] = {"shared": [], "fresh": []}
    for _ in range(ROUNDS):
        for name, session in (("shared", "dynamodb_session"), ("fresh", "None")):
            command = [PYTHON, "-c", SQS_CLIENT.format(session=session)]
            result = subprocess.run(command, env=ENV, capture_output=True, text=True, check=True)  # noqa: S603
            samples[name].append(float(result.stdout))
    shared, fresh = (statistics.median(samples[name]) * 1000 for name in ("shared", "fresh"))
    print(f"\nfirst write's SQS client: on the DynamoDB session {shared:.1f} ms, on a new one {fresh:.1f} ms (medians)")


# redis-py is imported by the first request that uses Redis (a rate limit, the cache); its cluster client is needed
# only when REDIS_URL names a cluster. What importing it costs after the package itself:
REDIS_CLUSTER_CLIENT = (
    "import time, redis; s = time.perf_counter(); from redis.cluster import RedisCluster; "
    "print(time.perf_counter() - s)"
)


def redis_client_cost() -> None:
    package = [timed_import("import redis") for _ in range(ROUNDS)]
    cluster_client = []
    for _ in range(ROUNDS):
        command = [PYTHON, "-c", REDIS_CLUSTER_CLIENT]
        result = subprocess.run(command, env=ENV, capture_output=True, text=True, check=True)  # noqa: S603
        cluster_client.append(float(result.stdout))
    print(
        f"\nredis-py: `import redis` {statistics.median(package) * 1000:.1f} ms; its cluster client after it "
        f"{statistics.median(cluster_client) * 1000:.2f} ms (medians; redis/__init__.py imports it already)"
    )


# As Lambda imports the deployed artifact: the build's function and layer directories alone (-S), which are
# read-only there, so Python writes no bytecode; with the bytecode `make sam-build` compiles into them, and without
# it (a plain `sam build`: every module compiled on every cold start, as here with the cache looked for elsewhere).
BUILD = ROOT / ".aws-sam" / "build"
ARTIFACT_PATH = [BUILD / "ApiFunction", BUILD / "SharedLayer" / "python", BUILD / "DependenciesLayer" / "python"]
WITHOUT_BYTECODE = {"PYTHONPYCACHEPREFIX": "/nonexistent/bytecode"}


def artifact_import(imports: str, extra: dict[str, str]) -> float:
    variables = ENV | extra | {"PYTHONPATH": os.pathsep.join(map(str, ARTIFACT_PATH)), "PYTHONDONTWRITEBYTECODE": "1"}
    return timed_import(imports, (sys.executable, "-S"), variables)


def artifact_cold_start() -> None:
    if not (BUILD / "template.yaml").exists():
        print("\nno .aws-sam/build: make sam-build first, for the deployed artifact's figures")
        return
    subjects = {
        ("floor", "compiled"): (SUBJECTS[FLOOR], {}),
        ("handler", "compiled"): (SUBJECTS[HANDLER], {}),
        ("floor", "source only"): (SUBJECTS[FLOOR], WITHOUT_BYTECODE),
        ("handler", "source only"): (SUBJECTS[HANDLER], WITHOUT_BYTECODE),
    }
    samples = interleaved(
        {key: functools.partial(artifact_import, imports, extra) for key, (imports, extra) in subjects.items()}
    )
    print(f"\nthe deployed artifact ({BUILD.relative_to(ROOT)}, read-only as on Lambda):")
    for bytecode in ("compiled", "source only"):
        floor, handler = samples[("floor", bytecode)], samples[("handler", bytecode)]
        print(
            f"  bytecode {bytecode:11}  floor median {statistics.median(floor) * 1000:7.1f} ms   handler median "
            f"{statistics.median(handler) * 1000:7.1f} ms   handler/floor {paired_ratio(handler, floor):.2f}x"
        )
    saving = paired_ratio(samples[("handler", "compiled")], samples[("handler", "source only")])
    print(f"  handler, compiled / source only: {saving:.2f}x (median of the rounds' ratios)")


if __name__ == "__main__":
    main()
    artifact_cold_start()
    sqs_client_cost()
    redis_client_cost()
