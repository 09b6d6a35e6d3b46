"""The two container paths end to end. `make sam-local`: SAM CLI's own local API and Lambda service, the functions in
Lambda containers, the Docker Compose services; the Postman collection (its account mail read from the local mailbox
that make sam-local serves), every sample event, and a clean stop of everything it started. `docker compose up
--build` alone: the API through the local gateway with the audit worker, Swagger, the first admin and the Streamlit
front end, each in its container, and Ctrl-C stopping them all.

Needs a Docker engine, or root to start one (CI runs as root): elsewhere it is skipped, never under CI=true. The
images are the machine's, built by make test's `images` stage before the tests (else by the first stack here) and
again only when their recipe changes (infra/containers/prepare.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from infra.commands.dev_stack import LocalStack, compose_stack, sam_local_stack
from infra.commands.postman import newman
from infra.commands.sample_events import EVENTS_ROOT, function_for, load_event, placeholder_values
from infra.containers.compose import Compose
from infra.containers.engine import docker_engine, engine_answers
from infra.containers.images import resolve
from infra.containers.sam_local import GITHUB_STUB_URL, NETWORK, Sam, env_vars_file
from tests.support import TEST_SIGNING_KEY, assert_expected_outcome, make_smoke
from watchlist_core import wiring

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"email": "sam-local-admin@example.com", "password": "admin password 77"}
EVENTS = sorted(EVENTS_ROOT.rglob("*.json"))
# The first mail starts the mail function's container (through sam local start-lambda): 20 s and more.
MAIL_WAIT_SECONDS = 120

# When the collection's burst of sign-ins ended (make smoke waits for the login limit's window to pass).
POSTMAN_ENDED: list[float] = []
LOGIN_WINDOW_SECONDS = 60  # RATE_LIMIT_LOGIN's window, "10/60"

# The first run on a new machine installs the engine and builds the stand-in images (minutes).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def sam_local() -> Iterator[LocalStack]:
    if not engine_answers(dict(os.environ)) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs a Docker engine, or root to start one")
    # The suite's key, which the sample events' placeholders are signed with.
    with sam_local_stack(ADMIN["email"], ADMIN["password"], GITHUB_STUB="1", JWT_SECRET=TEST_SIGNING_KEY) as stack:
        yield stack


@pytest.fixture
def placeholders(sam_local: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, str]]:
    """Makes a user, an item and an admin in the compose DynamoDB, for a sample event's placeholders (an event
    may change them: each event gets its own)."""
    for name, value in sam_local.services.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return placeholder_values


def test_the_postman_collection_passes_against_sam_local(sam_local: LocalStack) -> None:
    postman = newman(
        sam_local.api, ADMIN["email"], ADMIN["password"], mailbox_required=True, mail_wait_seconds=MAIL_WAIT_SECONDS
    )
    POSTMAN_ENDED.append(time.time())
    assert postman == 0
    # The mail it read came through the mail function's container and the local SES, and was printed as make dev
    # prints it.
    assert any(line.startswith("mail to ") and "/reset?token=" in line for line in sam_local.output)


def test_every_sample_event_gets_its_expected_outcome_in_its_functions_container(
    sam_local: LocalStack, placeholders: Callable[[], dict[str, str]]
) -> None:
    # SAM's local Lambda service (`sam local start-lambda`, warm containers): the same invocation path as
    # `sam local invoke`, without a new container per event.
    client: Any = boto3.client("lambda", endpoint_url=sam_local.lambda_endpoint, region_name="us-east-1")
    mailed = []
    for path in EVENTS:
        values = placeholders()
        event = load_event(path, values)
        answer = client.invoke(FunctionName=function_for(path), Payload=json.dumps(event).encode())
        assert "FunctionError" not in answer, path
        assert_expected_outcome(path, event, json.loads(answer["Payload"].read()))
        if path.stem.endswith("__sent"):
            mailed.append(values["email"])
    # The mail samples' mail, sent by the mail function's container through the local SES.
    recipients = {message["to"] for message in httpx.get(f"{sam_local.api}/_local/mailbox", timeout=10).json()}
    assert mailed
    assert set(mailed) <= recipients


def test_sam_local_invoke_runs_each_function_on_a_sample_event(
    sam_local: LocalStack, placeholders: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    samples = [EVENTS_ROOT / "api/watchlists/get-item__200.json", EVENTS_ROOT / "audit/batch__stored.json"]
    samples.append(EVENTS_ROOT / "relay/scheduled__report.json")
    events = [load_event(path, placeholders()) for path in samples]
    with docker_engine() as engine:  # the engine the stack runs on
        sam = Sam(engine, resolve(engine), env_vars_file(tmp_path, github_stub=True))

        def invoke(path: Path, event: dict[str, Any]) -> subprocess.CompletedProcess[str]:
            event_file = tmp_path / path.name
            event_file.write_text(json.dumps(event))
            command = sam.command("invoke", function_for(path), "--event", str(event_file))
            return subprocess.run(  # noqa: S603
                command, env=engine | {"SAM_CLI_TELEMETRY": "0"}, capture_output=True, text=True, check=False
            )

        # Each invocation starts a container of its own and mostly waits for it: all at once.
        with ThreadPoolExecutor(len(samples)) as pool:
            results = list(pool.map(invoke, samples, events))
    for path, event, result in zip(samples, events, results, strict=True):
        assert result.returncode == 0, result.stderr[-3000:]
        assert_expected_outcome(path, event, json.loads(result.stdout))


def test_make_smoke_passes_against_sam_local(sam_local: LocalStack) -> None:
    # The collection ends with a burst of sign-ins until 429, which holds this address's sign-ins back for up to the
    # login limit's window: the smoke flow signs in once that is over (the tests between usually take longer).
    time.sleep(max(0.0, LOGIN_WINDOW_SECONDS + 1 - (time.time() - POSTMAN_ENDED[0])) if POSTMAN_ENDED else 0.0)
    run = make_smoke(sam_local.api)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "make smoke: smoke flow passed; newman (Health) passed" in run.stdout


def test_the_stack_stops_with_everything_it_started(sam_local: LocalStack) -> None:
    output = sam_local.stop()
    assert sam_local.process.returncode == 0, output[-3000:]
    private_engine = re.search(r"starting a private one \((unix://\S+),", output)
    if private_engine:  # the engine it started is stopped too
        assert not engine_answers(dict(os.environ) | {"DOCKER_HOST": private_engine[1]})
    with docker_engine() as engine:  # the same engine (a private one starts again on the same images)

        def docker(*arguments: str) -> str:
            result = subprocess.run(["docker", *arguments], env=engine, capture_output=True, text=True, check=True)  # noqa: S603, S607
            return result.stdout

        containers = docker("ps", "-a", "--format", "{{.Names}} {{.Labels}}").splitlines()
        networks = docker("network", "ls", "--format", "{{.Name}}").split()
    labels = ("com.docker.compose.project=watchlist", "sam.cli.container.type=lambda")
    assert [line for line in containers if any(label in line for label in labels)] == []
    assert NETWORK not in networks


@pytest.fixture
def sam_local_on_a_cluster() -> Iterator[LocalStack]:
    """`REDIS_CLUSTER=1 make sam-local`: the functions on a Redis Cluster of three compose services. Started after
    the stack above has stopped (one stack to an engine), on the images it built; stopped after its test."""
    if not engine_answers(dict(os.environ)) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs a Docker engine, or root to start one")
    with sam_local_stack(ADMIN["email"], ADMIN["password"], GITHUB_STUB="1", REDIS_CLUSTER="1") as stack:
        yield stack


def test_the_postman_collection_passes_against_sam_local_on_a_redis_cluster(
    sam_local_on_a_cluster: LocalStack,
) -> None:
    # The collection checks the guards that live in Redis: RateLimit headers, a cached read's HIT, a logged-out
    # token refused, a burst of logins refused.
    postman = newman(
        sam_local_on_a_cluster.api,
        ADMIN["email"],
        ADMIN["password"],
        mailbox_required=True,
        mail_wait_seconds=MAIL_WAIT_SECONDS,
    )
    assert postman == 0
    # The API function found a cluster behind RedisUrl (its log line, which sam local passes on).
    assert any('"message":"redis: a cluster"' in line for line in sam_local_on_a_cluster.output)


@pytest.fixture(scope="module")
def compose_up() -> Iterator[tuple[LocalStack, Compose]]:
    """`docker compose up --build` as a user types it, with stand-in images (and their override files) where the
    real ones cannot be pulled, and the GitHub stand-in (the profile an offline user turns on). Started after the SAM
    stacks have stopped (one compose project to an engine)."""
    if not engine_answers(dict(os.environ)) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs a Docker engine, or root to start one")
    with docker_engine() as engine:
        images = resolve(engine)
        environment = engine | images.compose_environment | {"GITHUB_API_URL": GITHUB_STUB_URL}
        compose = Compose(environment, images.compose_overrides, profiles=["github-stub"])
        with compose_stack(ADMIN["email"], ADMIN["password"], compose.command(), compose.environment) as stack:
            yield stack, compose


def test_docker_compose_up_serves_the_api_its_docs_and_the_first_admin(compose_up: tuple[LocalStack, Compose]) -> None:
    stack, _ = compose_up
    assert any(f"admin {ADMIN['email']}: created" in line for line in stack.output)
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        assert client.get("/health").json() == {"status": "pass"}
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text
    assert newman(stack.api, ADMIN["email"], ADMIN["password"], mailbox_required=True) == 0


# Run in the front end's container with its own client, as the Streamlit app calls the API: the admin adds an item,
# then reads the audit trail until the audit worker (in the API's container) has stored the item's event.
FRONT_END_CHECK = """
import json, os, sys, time
sys.path.insert(0, "/app/frontend")
from watchlist_ui.client import Session, WatchlistClient
client = WatchlistClient(os.environ["WATCHLIST_API_URL"], Session())
client.login(sys.argv[1], sys.argv[2])
item = client.add({"title": "Seen from the front end's container", "type": "movie"})
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    events = client.audit(action="item.created")["items"]
    stored = [event for event in events if event["target"]["id"] == item["id"]]
    if stored:
        break
    time.sleep(1)
print(json.dumps({"api": os.environ["WATCHLIST_API_URL"], "admin": client.me()["id"], "stored": stored}))
"""


def test_the_front_end_container_uses_the_api_whose_audit_worker_stores_its_events(
    compose_up: tuple[LocalStack, Compose],
) -> None:
    stack, compose = compose_up
    assert httpx.get(stack.services["FRONTEND_URL"] + "/_stcore/health", timeout=30).text == "ok"
    script = ["exec", "-T", "frontend", "python", "-c", FRONT_END_CHECK, ADMIN["email"], ADMIN["password"]]
    result = json.loads(compose.run(*script, capture=True).stdout)
    assert result["api"] == "http://api:8000"  # over the compose network, not the host's published port
    assert [event["actor_id"] for event in result["stored"]] == [result["admin"]]


def test_ctrl_c_stops_docker_compose_up_and_every_container_exits_cleanly(
    compose_up: tuple[LocalStack, Compose],
) -> None:
    stack, compose = compose_up
    output = stack.stop()
    assert stack.process.returncode == 128 + signal.SIGINT, output[-3000:]  # Compose's answer to Ctrl-C
    assert "Gracefully Stopping..." in output
    exited = compose.run("ps", "--all", "--format", "{{.Service}} {{.State}} {{.ExitCode}}", capture=True).stdout
    assert sorted(exited.split("\n")[:-1]) == [
        f"{service} exited 0" for service in ("api", "dynamodb", "frontend", "github-stub", "redis", "sqs")
    ]
    compose.run("down", "--volumes", "--timeout", "5")
    assert compose.run("ps", "--all", "--quiet", capture=True).stdout == ""
