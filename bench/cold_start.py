"""Cold start: importing the API handler module (which builds the app) against a floor, in fresh processes.

Floor: a process that only imports fastapi, mangum and pynamodb. Runs in a runtime-only environment
(`.venv-runtime`, the deployed dependencies and nothing else) when it exists, else this interpreter.
Rounds alternate the subjects so machine noise falls on all alike. Beside the handler, two peers (bench/peers): the
same kind of API, twenty validated routes with pydantic models, on FastAPI + Mangum and on Powertools' event handler.
Then the same as Lambda imports the deployed artifact (.aws-sam/build), with a cold start's first requests: GET
/health, and a sign-in (POST /v1/auth/token, against a local moto and Redis).
"""

from __future__ import annotations

import compileall
import functools
import os
import py_compile
import secrets
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = ROOT / ".venv-runtime" / "bin" / "python"
PYTHON = str(RUNTIME_PYTHON) if RUNTIME_PYTHON.exists() else sys.executable
ROUNDS = int(os.environ.get("COLD_START_ROUNDS", "25"))  # fewer for a quick look at one change
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
# The peers (bench/peers/*.py): twenty routes, a request and a response model per resource, validation on.
PEERS = ROOT / "bench" / "peers"
PEER_FASTAPI = "peer: FastAPI + Mangum, 20 routes"
PEER_POWERTOOLS = "peer: Powertools REST resolver, 20 routes"
SUBJECTS = {
    FLOOR: "import fastapi, mangum, pynamodb.models",
    "bare app, one route (reference)": ONE_ROUTE_APP,
    PEER_FASTAPI: "import peer_fastapi",
    PEER_POWERTOOLS: "import peer_powertools",
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
    "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(PEERS)])),
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
    # Bytecode for the peers, as the artifact has its own (`make sam-build`): each subject imports compiled code.
    compileall.compile_dir(PEERS, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
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
# A cold start's first request, from the artifact: the local events module is found after the handler's import.
FIRST_REQUEST = (
    "import watchlist_api.handler as h, sys; sys.path.append({root!r}); "
    "from infra.local.events import LambdaContext, api_gateway_event; "
    "answer = h.handler(api_gateway_event({request}), LambdaContext()); "
    "assert answer['statusCode'] == {status}, answer"
)
HEALTH = FIRST_REQUEST.format(root=str(ROOT), request="'GET', '/health'", status=200)
# A sign-in with the right password (an account the bench registers first), from an address of its own each time
# (no process meets another's rate limit): the user's read, one argon2 verification, the session's write, the audit
# event's SendMessage.
SIGN_IN = FIRST_REQUEST.format(
    root=str(ROOT),
    request=(
        "'POST', '/v1/auth/token', body=b'grant_type=password&username={email}&password={password}', "
        "headers=[('Content-Type', 'application/x-www-form-urlencoded')], "
        "source_ip='10.%d.%d.%d' % tuple(__import__('os').urandom(3))"
    ),
    status=200,
)


def artifact_import(imports: str, extra: dict[str, str]) -> float:
    path = os.pathsep.join(map(str, [*ARTIFACT_PATH, PEERS]))
    variables = ENV | extra | {"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    return timed_import(imports, (sys.executable, "-S"), variables)


def artifact_cold_start() -> None:
    if not (BUILD / "template.yaml").exists():
        print("\nno .aws-sam/build: make sam-build first, for the deployed artifact's figures")
        return
    from urllib.parse import quote_plus

    from bench._common import captured_output, local_stack
    from tests.support import PASSWORD, Api

    with local_stack():
        import watchlist_api.handler

        with captured_output():
            email = Api(watchlist_api.handler.handler).register()["email"]
        # The local stack's environment (its moto and Redis, its signing key), for the first requests.
        stack = dict(os.environ) | {"POWERTOOLS_LOG_LEVEL": "WARNING"}
        sign_in = SIGN_IN.replace("{email}", quote_plus(email)).replace("{password}", quote_plus(PASSWORD))
        subjects: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
            ("floor", "compiled"): (SUBJECTS[FLOOR], {}),
            ("handler", "compiled"): (SUBJECTS[HANDLER], {}),
            (PEER_FASTAPI, "compiled"): (SUBJECTS[PEER_FASTAPI], {}),
            (PEER_POWERTOOLS, "compiled"): (SUBJECTS[PEER_POWERTOOLS], {}),
            ("handler + first GET /health", "compiled"): (HEALTH, stack),
            ("handler + first sign-in (POST /v1/auth/token)", "compiled"): (sign_in, stack),
            ("floor", "source only"): (SUBJECTS[FLOOR], WITHOUT_BYTECODE),
            ("handler", "source only"): (SUBJECTS[HANDLER], WITHOUT_BYTECODE),
        }
        samples = interleaved(
            {key: functools.partial(artifact_import, imports, extra) for key, (imports, extra) in subjects.items()}
        )
    print(f"\nthe deployed artifact ({BUILD.relative_to(ROOT)}, read-only as on Lambda), {ROUNDS} rounds:")
    for (name, bytecode), values in samples.items():
        floor = samples[("floor", bytecode)]
        print(
            f"  {bytecode:11}  {name:46} median {statistics.median(values) * 1000:7.1f} ms   "
            f"x floor {paired_ratio(values, floor):.2f} (median of the rounds' ratios)"
        )
    artifact = paired_ratio(samples[("handler", "compiled")], samples[("floor", "compiled")])
    print(f"  ratio artifact handler/floor (compiled): {artifact:.2f}x   target <= 1.2x")
    saving = paired_ratio(samples[("handler", "compiled")], samples[("handler", "source only")])
    print(f"  handler, compiled / source only: {saving:.2f}x (median of the rounds' ratios)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--artifact"]:  # the deployed artifact's figures alone
        artifact_cold_start()
        raise SystemExit
    main()
    artifact_cold_start()
    sqs_client_cost()
    redis_client_cost()
