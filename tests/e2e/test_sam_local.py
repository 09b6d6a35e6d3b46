"""`make sam-local` end to end: SAM CLI's own local API and Lambda service, the functions in Lambda containers, the
Docker Compose services; the Postman collection, every sample event, and a clean stop of everything it started.

Needs a Docker engine, or root to start one (CI runs as root): elsewhere it is skipped, never under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.commands.dev_stack import LocalStack, sam_local_stack
from infra.commands.postman import newman
from infra.commands.sample_events import EVENTS_ROOT, function_for, load_event, placeholder_values
from infra.containers.engine import docker_engine, engine_answers
from infra.containers.images import resolve
from infra.containers.sam_local import NETWORK, Sam, env_vars_file
from tests.support import assert_expected_outcome
from watchlist_core import wiring

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"email": "sam-local-admin@example.com", "password": "admin password 77"}
EVENTS = sorted(EVENTS_ROOT.rglob("*.json"))

# The first run on a new machine installs the engine and builds the stand-in images (minutes).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def engine_root() -> Iterator[None]:
    """Under CI, with no engine running: a private engine with an empty image store of its own, so that the run
    proves the whole path on every machine, stand-in images built from nothing included."""
    if engine_answers(dict(os.environ)) or os.environ.get("CI") != "true":
        yield
        return
    root = tempfile.mkdtemp(prefix="wl-docker-", dir="/var/tmp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WATCHLIST_DOCKER_ROOT", root)
        yield
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sam_local(engine_root: None) -> Iterator[LocalStack]:
    if not engine_answers(dict(os.environ)) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs a Docker engine, or root to start one")
    with sam_local_stack(ADMIN["email"], ADMIN["password"], GITHUB_STUB="1") as stack:
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
    assert newman(sam_local.api, ADMIN["email"], ADMIN["password"]) == 0


def test_every_sample_event_gets_its_expected_outcome_in_its_functions_container(
    sam_local: LocalStack, placeholders: Callable[[], dict[str, str]]
) -> None:
    # SAM's local Lambda service (`sam local start-lambda`, warm containers): the same invocation path as
    # `sam local invoke`, without a new container per event.
    client: Any = boto3.client("lambda", endpoint_url=sam_local.lambda_endpoint, region_name="us-east-1")
    for path in EVENTS:
        event = load_event(path, placeholders())
        answer = client.invoke(FunctionName=function_for(path), Payload=json.dumps(event).encode())
        assert "FunctionError" not in answer, path
        assert_expected_outcome(path, event, json.loads(answer["Payload"].read()))


def test_sam_local_invoke_runs_each_function_on_a_sample_event(
    sam_local: LocalStack, placeholders: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    samples = ["api/watchlists/get-item__200.json", "audit/batch__stored.json", "relay/scheduled__report.json"]
    with docker_engine() as engine:  # the engine the stack runs on
        sam = Sam(engine, resolve(engine), env_vars_file(tmp_path, github_stub=True))
        for sample in samples:
            path = EVENTS_ROOT / sample
            event = load_event(path, placeholders())
            event_file = tmp_path / path.name
            event_file.write_text(json.dumps(event))
            command = sam.command("invoke", function_for(path), "--event", str(event_file))
            result = subprocess.run(  # noqa: S603
                command, env=engine | {"SAM_CLI_TELEMETRY": "0"}, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, result.stderr[-3000:]
            assert_expected_outcome(path, event, json.loads(result.stdout))


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


@pytest.fixture(scope="module")
def sam_local_on_a_cluster(engine_root: None) -> Iterator[LocalStack]:
    """`REDIS_CLUSTER=1 make sam-local`: the functions on a Redis Cluster of three compose services. Started after
    the stack above has stopped (one stack to an engine), on the images it built."""
    if not engine_answers(dict(os.environ)) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs a Docker engine, or root to start one")
    with sam_local_stack(ADMIN["email"], ADMIN["password"], GITHUB_STUB="1", REDIS_CLUSTER="1") as stack:
        yield stack


def test_the_postman_collection_passes_against_sam_local_on_a_redis_cluster(
    sam_local_on_a_cluster: LocalStack,
) -> None:
    # The collection checks the guards that live in Redis: RateLimit headers, a cached read's HIT, a logged-out
    # token refused, a burst of logins refused.
    assert newman(sam_local_on_a_cluster.api, ADMIN["email"], ADMIN["password"]) == 0
    # The API function found a cluster behind RedisUrl (its log line, which sam local passes on).
    assert any('"message":"redis: a cluster"' in line for line in sam_local_on_a_cluster.output)
