"""The SnapStart hooks on their own (tests/integration/test_snapstart.py runs them as Lambda does)."""

from __future__ import annotations

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
