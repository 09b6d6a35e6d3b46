"""The arm64 build (`make sam-build-arm64`: template parameter Architecture=arm64) works: every wheel of both layers
is an aarch64 one; on an arm64 Debian's Python 3.13, under emulation (infra/containers/arm64.py), every compiled
module of the layers loads, and each built function, its code and both layers and nothing from this machine,
imports and answers representative sample events as expected. Its services are this machine's: a moto server and a
Redis, reached from the root over the loopback.

Only what the architecture can change runs emulated (some twenty times slower): the compiled modules, and each
handler's import and a few invocations through them, in one emulated instance for each distinct artifact (the audit
and relay functions deploy the same code and layers). Every sample event runs natively, on the same code: in
process (tests/integration/test_sample_events.py, test_audit.py) and in the x86_64 build's Lambda containers
(tests/e2e/test_sam_local.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import ROOT
from infra.aws.template import load_template
from infra.commands.sample_events import EVENTS_ROOT, function_for, load_event, placeholder_values
from infra.commands.verify_build import function_paths
from infra.containers.arm64 import arm64_root, install_function, invoke
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT, use_moto
from infra.local.moto_server import MotoServer
from infra.local.redis_server import RedisServer
from tests.support import TEST_SIGNING_KEY, assert_expected_outcome
from watchlist_core import wiring

BUILD = ROOT / ".aws-sam" / "build-arm64"
# Each function's representative events: for the API, the ones that go through every compiled module it uses (a
# sign-in: argon2's bindings through cffi; validation: pydantic-core) and every service (DynamoDB, SQS, Redis).
REPRESENTATIVE_EVENTS = {
    "ApiFunction": [
        "api/health/detailed__200.json",
        "api/auth/token__200.json",
        "api/watchlists/create-item__201.json",
    ],
    "AuditFunction": ["audit/batch-with-duplicate__stored-once.json"],
    "OutboxRelayFunction": ["relay/scheduled__report.json"],
}
# Emulated, the functions run some twenty times slower than here: the deployed deadlines (a health probe's 1.5 s)
# would fail on the emulator's speed, not on the build.
EMULATION_TIMEOUTS = {
    "HEALTH_CHECK_TIMEOUT_SECONDS": "30",
    "DYNAMODB_CONNECT_TIMEOUT_SECONDS": "10",
    "DYNAMODB_READ_TIMEOUT_SECONDS": "10",
    "REDIS_TIMEOUT_SECONDS": "2",
    "SQS_TIMEOUT_SECONDS": "5",
}

# Emulated, the first import of a function compiles its modules on an arm64 CPython at a tenth of native speed.
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def root() -> Path:
    if os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs root (debootstrap, chroot)")
    if not (BUILD / "template.yaml").exists():
        pytest.fail("no arm64 build: make sam-build-arm64 (make test runs it first)")
    return arm64_root()


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, str]]:
    """A moto server with the template's tables and queues, and a Redis: the variables that point at them."""
    with MotoServer() as moto, RedisServer() as redis, pytest.MonkeyPatch.context() as patch:
        environment = {"REDIS_URL": redis.url}

        def keep(name: str, value: str) -> None:
            environment[name] = value
            patch.setenv(name, value)

        for name, value in LOCAL_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        use_moto(moto.endpoint_url, keep)
        yield environment


@pytest.fixture
def environment(services: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's settings (for the placeholders it makes) and the root's environment: the same services."""
    for name, value in services.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return LOCAL_AWS_ENVIRONMENT | {"STAGE": "local", "JWT_SECRET": TEST_SIGNING_KEY} | EMULATION_TIMEOUTS | services


def file_of(path: str) -> str:
    return subprocess.run(["file", "-b", path], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607


def test_every_compiled_module_of_the_arm64_build_is_aarch64() -> None:
    extensions = sorted(BUILD.rglob("*.so"))
    assert extensions
    for extension in extensions:
        assert "ARM aarch64" in file_of(str(extension)), extension


def artifacts() -> list[list[str]]:
    """The functions of REPRESENTATIVE_EVENTS grouped by what they deploy: the same code (CodeUri) and layers."""
    template = load_template()
    global_layers = template["Globals"]["Function"].get("Layers", [])
    groups: dict[str, list[str]] = {}
    for function in REPRESENTATIVE_EVENTS:
        properties = template["Resources"][function]["Properties"]
        artifact = repr((properties["CodeUri"], properties.get("Layers", global_layers)))
        groups.setdefault(artifact, []).append(function)
    return list(groups.values())


def sources(directory: Path) -> dict[str, bytes]:
    """A built function's files (relative path -> content), its bytecode aside (which records its own path)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_audit_and_relay_functions_deploy_one_artifact() -> None:
    """What lets one emulated instance answer for both (and, if they part, the proof runs each on its own)."""
    assert ["AuditFunction", "OutboxRelayFunction"] in artifacts()
    built = function_paths(BUILD)
    assert sources(built["AuditFunction"][1][0]) == sources(built["OutboxRelayFunction"][1][0])
    assert built["AuditFunction"][1][1:] == built["OutboxRelayFunction"][1][1:]


@pytest.mark.parametrize("functions", artifacts(), ids="+".join)
def test_each_built_function_answers_representative_events_on_arm64(
    root: Path, environment: dict[str, str], functions: list[str]
) -> None:
    built = function_paths(BUILD)
    code, layers = built[functions[0]][1][0], built[functions[0]][1][1:]
    install_function(root, code, layers)
    samples = [EVENTS_ROOT / sample for function in functions for sample in REPRESENTATIVE_EVENTS[function]]
    assert [function_for(path) for path in samples] == [
        function for function in functions for _ in REPRESENTATIVE_EVENTS[function]
    ]
    events = [load_event(path, placeholder_values()) for path in samples]
    invocations = [(built[function_for(path)][0], event) for path, event in zip(samples, events, strict=True)]
    started = time.monotonic()
    # Once, with the API (every function has the same layers): every compiled module of the layers, used or not.
    load_every_extension = "ApiFunction" in functions
    report = invoke(root, invocations, environment, load_every_extension=load_every_extension)
    imports = ", ".join(f"{handler} {seconds:.1f} s" for handler, seconds in report["import_seconds"].items())
    print(f"{'+'.join(functions)}: {len(events)} events in {time.monotonic() - started:.1f} s, imports: {imports}")
    assert sorted(report["import_seconds"]) == sorted({built[function][0] for function in functions})
    for path, event, answer in zip(samples, events, report["answers"], strict=True):
        assert_expected_outcome(path, event, answer)
    assert report["machine"] == "aarch64"
    # Every compiled module it loaded, the standard library's apart, is the layer's own aarch64 one.
    loaded = [path for path in report["extensions"] if not path.startswith("/usr/lib/python3.13/")]
    assert all(path.startswith("/opt/python/") for path in loaded), loaded
    names = {Path(path).name.split(".")[0] for path in loaded}
    assert "_pydantic_core" in names
    if load_every_extension:
        assert report["unloadable"] == {}
        built_extensions = sorted(
            "/opt/python/" + str(Path(*extension.relative_to(BUILD).parts[2:]))
            for extension in BUILD.rglob("*.so")
            if extension.relative_to(BUILD).parts[1] == "python"
        )
        assert built_extensions
        assert set(built_extensions) <= set(report["layer_extensions"]), set(built_extensions) - set(
            report["layer_extensions"]
        )
    if "ApiFunction" in functions:  # argon2's bindings, through cffi: the wheel that kept arm64 off python3.11
        assert {"_ffi", "_cffi_backend"} <= names
