"""`make dev`'s reload: a saved change to a route answers without restarting the stack, whose moto data stays; code
that fails to import answers 502 as Lambda's init error does, until it is mended. It runs on a copy of the project,
so that the edits reach no other test."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import ROOT
from infra.commands.dev_stack import LocalStack, dev_stack_in
from infra.commands.import_roots import import_roots
from tests.support import PASSWORD, http_request, unique_email

HEALTH = Path("functions/api/watchlist_api/routers/health.py")
PROBE = """

@router.get("/v1/reload-probe", include_in_schema=False)
def reload_probe() -> dict[str, str]:
    return {"code": "as saved"}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for part in ("functions", "layers/shared", "infra"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("template.yaml", "pyproject.toml"):
        shutil.copy(ROOT / part, copy / part)
    return copy


@pytest.fixture(scope="module")
def stack(project: Path) -> Iterator[LocalStack]:
    # The copy's import roots first: they come before the venv's, which name the project itself.
    roots = [project / root.relative_to(ROOT) for root in import_roots()]
    with dev_stack_in(
        project, "admin@example.com", "admin password 1", PYTHONPATH=os.pathsep.join(map(str, roots))
    ) as running:
        yield running


def probe(stack: LocalStack) -> int:
    status, _, _ = http_request(stack.api, "/v1/reload-probe")
    return status


def wait_for(stack: LocalStack, status: int, seconds: float = 30) -> float:
    started = time.monotonic()
    while (answered := probe(stack)) != status:
        assert time.monotonic() - started < seconds, f"still {answered} after {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def wait_for_line(stack: LocalStack, prefix: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not any(line.startswith(prefix) for line in stack.output):
        assert time.monotonic() < deadline, f"no line starting {prefix!r} after {seconds} s"
        time.sleep(0.1)


def test_a_saved_route_answers_without_a_restart_and_the_data_stays(stack: LocalStack, project: Path) -> None:
    assert "reload: on" in "".join(stack.output)
    email = unique_email()
    status, _, _ = http_request(
        stack.api, "/v1/auth/register", body={"email": email, "password": PASSWORD}, method="POST"
    )
    assert status == 201
    assert probe(stack) == 404
    pid = stack.process.pid

    with (project / HEALTH).open("a") as source:
        source.write(PROBE)
    seconds = wait_for(stack, 200)
    print(f"save to changed answer: {seconds:.2f} s")
    status, _, body = http_request(stack.api, "/v1/reload-probe")
    assert json.loads(body) == {"code": "as saved"}
    assert stack.process.pid == pid
    assert stack.process.poll() is None
    # The line comes once the audit worker has restarted too, which can be after the new instances answer.
    wait_for_line(stack, "reloaded (health.py)")
    status, _, tokens = http_request(
        stack.api, "/v1/auth/login", body={"email": email, "password": PASSWORD}, method="POST"
    )
    assert status == 200, tokens  # the moto server and its data stayed


def test_code_that_fails_to_import_answers_502_until_mended(stack: LocalStack, project: Path) -> None:
    source = (project / HEALTH).read_text()
    (project / HEALTH).write_text(source + "\nthis is not python\n")
    wait_for(stack, 502)
    status, _, body = http_request(stack.api, "/health")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    (project / HEALTH).write_text(source)
    wait_for(stack, 200)
    assert http_request(stack.api, "/health")[0] == 200
