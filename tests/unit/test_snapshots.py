"""The SnapStart hooks on their own (tests/integration/test_snapstart.py runs them as Lambda does)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import snapshot_restore_py

from tests.unit.test_wiring import BUILT_ON_FIRST_USE
from watchlist_core import snapshots
from watchlist_core.settings import get_settings


def test_the_renewal_reseeds_random_and_forgets_the_services() -> None:
    settings = get_settings()
    random.seed(7)
    snapshot_draw = random.getrandbits(64)
    random.seed(7)
    snapshots.renew_instance_state()
    assert random.getrandbits(64) != snapshot_draw
    assert get_settings() is not settings


def test_the_hooks_are_registered_with_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    assert snapshots.register_hooks()
    assert snapshot_restore_py.get_before_snapshot() == [(snapshots.forget_instance_state, (), {})]
    assert snapshot_restore_py.get_after_restore() == [(snapshots.renew_instance_state, (), {})]


def test_outside_lambdas_runtime_there_is_nothing_to_register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # not importable, as under make dev
    assert not snapshots.register_hooks()


def test_the_snapshot_holds_the_modules_of_every_service_and_no_service() -> None:
    """The handler's import builds no service (tests/unit/test_wiring.py): before the snapshot each is built once, so
    that a restored instance's first request imports none of their modules, then forgotten."""
    code = (
        "import sys, watchlist_api.handler; from watchlist_core import snapshots, wiring; "
        "snapshots.forget_instance_state(); assert wiring.get_services.cache_info().currsize == 0; "
        f"print([name for name in {BUILT_ON_FIRST_USE!r} if name not in sys.modules])"
    )
    imported = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, timeout=60, check=True
    )
    assert imported.stdout.strip() == "[]"


# Off the path of a cold start's GET /health: each is imported by the first request (or span) that uses it.
IMPORTED_ON_FIRST_USE = (
    "jwt",  # the first token issued or read
    "ulid",  # the first id: an audit event, an item, a session
    "passlib",  # the first password hashed or verified
    "argon2",
    "httpx",  # the first GitHub lookup
    "stamina",
    "watchlist_core.external.github",
    "opentelemetry.sdk",  # the first invocation with tracing on
    "opentelemetry.exporter.otlp.proto.common",  # the first span sent
    "google.protobuf",
    "boto3",  # the first write (its audit event's SendMessage)
    "redis",  # the first request that uses Redis
)
# What the before-snapshot hooks must import: in the snapshot, a restored instance's first request imports neither.
IMPORTED_FOR_THE_SNAPSHOT = ("jwt", "ulid")
# Lists the modules of `names` imported, the models (watchlist_core.domain.Model) still unbuilt, and the app's request
# and response fields (FastAPI's, made of those models) still unbuilt.
_STATE = (
    "import json, sys; from fastapi import routing; from watchlist_core.domain import Model; "
    "models, pending = [], [Model]\n"
    "while pending: model = pending.pop(); pending.extend(model.__subclasses__()); models.append(model)\n"
    "fields = [field for route in routing.iter_route_contexts(handler.app.routes) "
    "if isinstance(route.original_route, routing.APIRoute) "
    "for field in (route.response_field, route.body_field, *route.response_fields.values()) if field is not None]\n"
    "print(json.dumps([[name for name in {names!r} if name in sys.modules], "
    "len([model for model in models[1:] if not model.__pydantic_complete__]), "
    "len([field for field in fields if not field._type_adapter.pydantic_complete])]))"
)


def _run(code: str) -> tuple[list[str], int, int]:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    imported, unbuilt_models, unbuilt_fields = json.loads(result.stdout)
    return imported, unbuilt_models, unbuilt_fields


def test_the_handlers_import_leaves_out_what_its_first_get_health_does_not_use() -> None:
    code = "import watchlist_api.handler as handler\n" + _STATE.format(names=IMPORTED_ON_FIRST_USE)
    imported, unbuilt_models, unbuilt_fields = _run(code)
    assert imported == []
    assert unbuilt_models > 10  # the responses' and the audit trail's models: built at their first use
    assert unbuilt_fields > 10


def test_the_before_snapshot_hooks_import_and_build_what_the_import_deferred() -> None:
    """As Lambda runs them where SnapStart is on: every hook the handler's import registered, in turn."""
    code = (
        "import snapshot_restore_py, watchlist_api.handler as handler\n"
        "for hook, args, kwargs in snapshot_restore_py.get_before_snapshot(): hook(*args, **kwargs)\n"
    ) + _STATE.format(names=IMPORTED_FOR_THE_SNAPSHOT)
    assert _run(code) == (list(IMPORTED_FOR_THE_SNAPSHOT), 0, 0)
