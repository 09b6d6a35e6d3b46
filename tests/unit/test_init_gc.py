"""watchlist_api/init_gc.py: the collector paused during the handler's import, and on again after it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from watchlist_api.init_gc import collector_paused


@pytest.fixture
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()  # this test process's objects, frozen by the block under test, back in the oldest generation
    if enabled:
        gc.enable()


def test_the_handlers_import_leaves_the_collector_on_and_its_objects_frozen() -> None:
    code = "import gc, watchlist_api.handler; print(gc.isenabled(), gc.get_freeze_count() > 50_000)"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.usefixtures("collector_restored")
def test_the_collector_is_off_in_the_block_and_on_after_it() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector_restored")
def test_a_failed_import_leaves_the_collector_on_and_freezes_nothing() -> None:
    gc.enable()
    gc.unfreeze()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("init failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector_restored")
def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
