"""The SnapStart hooks on their own (tests/integration/test_snapstart.py runs them as Lambda does)."""

from __future__ import annotations

import random
import sys

import pytest
import snapshot_restore_py

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
