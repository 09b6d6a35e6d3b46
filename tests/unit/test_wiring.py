"""The API's composition root builds each service at its first use: the handler's import (a cold start's init)
builds the app alone, and a request builds what it uses."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from watchlist_core.wiring import Services

# Modules of services no route's declaration needs: imported when a request first uses their service.
BUILT_ON_FIRST_USE = (
    "watchlist_core.services.auth",
    "watchlist_core.services.admin",
    "watchlist_core.services.watchlist",
    "watchlist_core.services.github",
    "watchlist_core.state.admission",
    "watchlist_core.storage.tables",
    "watchlist_core.storage.users",
    "watchlist_core.storage.items",
)


def test_the_handlers_import_builds_no_service() -> None:
    code = f"import sys, watchlist_api.handler; print([name for name in {BUILT_ON_FIRST_USE!r} if name in sys.modules])"
    imported = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, timeout=60, check=True
    )
    assert imported.stdout.strip() == "[]"


def test_a_service_is_built_once_with_only_what_it_is_made_of(services: Services) -> None:
    auth = services.auth
    assert services.auth is auth
    built = set(vars(services))
    assert {"auth", "redis", "_users", "_sessions"} <= built
    assert not {"admin", "accounts", "watchlists", "github", "health", "_items"} & built


def test_threads_asking_at_once_share_one_instance(services: Services) -> None:
    start = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        start.wait()
        seen.append(services.admin)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert len({id(admin) for admin in seen}) == 1
