"""Fixtures shared by every test: a clean configuration per test, and no real AWS ever."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator

import botocore.loaders
import botocore.session
import pytest

from infra.commands import stages
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT
from tests.support import TEST_SIGNING_KEY
from watchlist_core import wiring
from watchlist_core.settings import Settings

SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields} - {"AWS_REGION", "STAGE"}

# Every test builds the services anew (wiring.reset()), and with them botocore sessions, each of which would parse
# botocore's JSON service models again: half a second a test. One loader for the run, as a Lambda instance has one
# for its life; what it loads is read-only data, cached by the loader itself.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


@pytest.fixture(autouse=True)
def clean_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, local stage, the suite's signing key, and settings and services rebuilt from this test's
    environment."""
    for name, value in LOCAL_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in os.environ:
        if name.upper() in SETTINGS_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("JWT_SECRET", TEST_SIGNING_KEY)
    wiring.reset()
    yield
    wiring.reset()


# Each test module's time, first test's start to last test's end (its module fixtures' setup and teardown included),
# for make test's table of stages (infra/commands/stages.py); a module runs on one worker (--dist loadfile). With it,
# the processor time its worker and the worker's children used meanwhile: the servers and programs it started and
# waited for, not the containers a Docker engine runs for it.
_module_times: dict[str, list[float]] = {}


def _processor_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--stages-file", help="append each test module's time to this file (make test's table)")


# The modules that take minutes, longest first, then the rest in their order: xdist hands whole modules out in
# collection order (--dist loadfile --no-loadscope-reorder), so the longest start at once and the workers end
# together instead of one finishing a long module alone. make test's table shows each module's time.
LONGEST_MODULES = (
    "tests/e2e/test_sam_local.py",
    "tests/e2e/test_arm64.py",
    "tests/e2e/test_frontend.py",
    "tests/e2e/test_openapi_conformance.py",
    "tests/e2e/test_dev_server.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::")[0]
        return LONGEST_MODULES.index(module) if module in LONGEST_MODULES else len(LONGEST_MODULES)

    items.sort(key=rank)  # stable: each module's tests keep their order


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    now, cpu = time.time(), _processor_seconds()
    _module_times.setdefault(nodeid.split("::")[0], [now, now, cpu, cpu])


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    times = _module_times[nodeid.split("::")[0]]
    times[1], times[3] = time.time(), _processor_seconds()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.pluginmanager.has_plugin("dsession"):  # xdist's controller: its workers record their modules
        return
    file = session.config.getoption("stages_file")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    # The session's fixtures (its moto and Redis servers) end in the last test's teardown: in its module's row.
    last = max(_module_times, key=lambda module: _module_times[module][1], default=None)
    for module, (started, ended, cpu_started, cpu_ended) in _module_times.items():
        name = f"pytest {module}" + (f" ({worker})" if worker else "")
        name += ", and the session's teardown" if module == last else ""
        stages.record(name, started, ended - started, file or "", cpu=cpu_ended - cpu_started)
