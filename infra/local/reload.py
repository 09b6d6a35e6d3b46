"""`make dev`'s reload: a saved Python file of the functions or the shared layer starts new API instances and a new
audit worker, as a deploy starts new Lambda instances; the gateway, the moto server with its data, and Redis stay.

watchdog (inotify on Linux) reports the changes; a burst of them (an editor's save writes several files) is one
reload. Requests in flight finish on the old instances; the next ones go to the new.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from infra.local.instances import InstancePool, PoolClosedError
from infra.local.servers import stop_process

QUIET_SECONDS = 0.2  # a save's burst of events is over when none came for this long


class _PythonChanges(FileSystemEventHandler):
    def __init__(self, changed: Callable[[str], None]) -> None:
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in {"opened", "closed_no_write"}:
            return
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if str(path).endswith(".py"):
                self._changed(str(path))


class CodeWatcher:
    """Calls `reload(changed paths)` once per burst of changes to .py files under `roots`."""

    def __init__(self, roots: Iterable[Path], reload: Callable[[list[str]], None]) -> None:
        self._reload = reload
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer = Observer()
        for root in roots:
            self._observer.schedule(_PythonChanges(self._changed), str(root), recursive=True)

    def _changed(self, path: str) -> None:
        with self._lock:
            self._pending.append(path)
            if self._timer:
                self._timer.cancel()
            self._timer = threading.Timer(QUIET_SECONDS, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            changed, self._pending = sorted(set(self._pending)), []
        self._reload(changed)

    def __enter__(self) -> CodeWatcher:
        self._observer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        with self._lock:
            if self._timer:
                self._timer.cancel()


class ReloadingInstances:
    """The gateway's instances, replaced by `reload()`: new processes import the code as it is now."""

    def __init__(self, count: int, module: str = "watchlist_api.handler") -> None:
        self._count = count
        self._module = module
        self._pool = InstancePool(count, module)
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
        while True:
            with self._lock:
                pool = self._pool
            try:
                return pool.invoke(event)
            except PoolClosedError:
                continue  # replaced while this waited: the new instances take it

    def reload(self) -> None:
        new = InstancePool(self._count, self._module)
        with self._lock:
            old, self._pool = self._pool, new
        old.close()  # after the invocations it is running

    def close(self) -> None:
        self._pool.close()


class RestartingProcess:
    """A child process that `restart()` replaces with a new one of the same command."""

    def __init__(self, argv: list[str]) -> None:
        self._argv = argv
        self.process = subprocess.Popen(argv)  # noqa: S603 (our own programs, fixed argv)

    def restart(self) -> None:
        stop_process(self.process)
        self.process = subprocess.Popen(self._argv)  # noqa: S603

    def close(self) -> None:
        stop_process(self.process)


def reloader(
    instances: ReloadingInstances, worker: RestartingProcess, say: Callable[[str], None]
) -> Callable[[list[str]], None]:
    """What a change does: new API instances and a new audit worker, and one line saying so."""

    def reload(changed: list[str]) -> None:
        started = time.perf_counter()
        instances.reload()
        worker.restart()
        names = ", ".join(Path(path).name for path in changed[:3]) + (" ..." if len(changed) > 3 else "")
        say(f"reloaded ({names}): new API instances and audit worker in {time.perf_counter() - started:.2f} s")

    return reload
