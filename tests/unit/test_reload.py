"""`make dev`'s reload parts on their own: the watcher's bursts, and instances replaced under load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infra.local.reload import CodeWatcher, ReloadingInstances


def test_a_burst_of_saved_python_files_is_one_reload_and_other_files_none(tmp_path: Path) -> None:
    reloads: list[list[str]] = []
    done = threading.Event()

    def reload(changed: list[str]) -> None:
        reloads.append(changed)
        done.set()

    with CodeWatcher([tmp_path], reload):
        (tmp_path / "notes.txt").write_text("not code")
        (tmp_path / "a.py").write_text("A = 1\n")
        (tmp_path / "b.py").write_text("B = 1\n")
        assert done.wait(5)
        time.sleep(0.5)  # anything more would have come by now
    assert len(reloads) == 1
    assert [Path(path).name for path in reloads[0]] == ["a.py", "b.py"]


def test_a_reload_serves_every_request_and_the_next_from_new_instances() -> None:
    instances = ReloadingInstances(1, module="tests.unit.pid_handler")
    try:
        first, _ = instances.invoke({})
        with ThreadPoolExecutor(2) as pool:
            busy = pool.submit(instances.invoke, {"sleep": 1.0})  # holds the only instance
            time.sleep(0.2)
            waiting = pool.submit(instances.invoke, {})  # waits for it
            time.sleep(0.2)
            instances.reload()
            assert busy.result(10)[0]["statusCode"] == 200
            assert waiting.result(10)[0]["statusCode"] == 200
        after, _ = instances.invoke({})
        assert after["body"] != first["body"]  # another process: the code imported anew
    finally:
        instances.close()
