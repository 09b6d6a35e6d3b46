"""A Lambda instance taken through SnapStart's life, for tests/integration/test_snapstart.py: initialise (import the
handler, then serve a sign-in, as a priming invocation would: Redis and DynamoDB connections opened, the signing key
fetched), run the before-snapshot hooks, wait for "restore" on stdin, then fork: each child is an instance restored
from the same memory. Half run the after-restore hooks, half do not (the control), and each then serves a sign-in
and writes what it holds to `<directory>/<name>.json`.

python -m tests.snapstart_instance DIRECTORY EMAIL PASSWORD
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import snapshot_restore_py
from ulid import ULID

import watchlist_api.handler as api_handler
from tests.support import Api
from watchlist_core import tracing
from watchlist_core.storage.tables import UserRecord
from watchlist_core.wiring import get_services

INSTANCES = {"restored-1": True, "restored-2": True, "unrenewed-1": False, "unrenewed-2": False}


def sign_in(email: str, password: str, source_ip: str) -> str:
    return str(Api(api_handler.handler, source_ip=source_ip).login(email, password)["access_token"])


def dynamodb_client() -> Any:
    return UserRecord._get_connection().connection.client


def redis_client_id() -> int:
    client_id = get_services().redis.run("snapstart probe", "snapstart", lambda slot: slot.commands.client_id())
    assert client_id is not None
    return int(client_id)


def restored(name: str, renew: bool, email: str, password: str, directory: Path, snapshot_random: Any) -> None:
    # Where a fork differs from a restore. CPython reseeds `random` in a forked child; a restored snapshot keeps the
    # state it was taken with. And a fork shares the kernel's epoll instance behind the snapshot's event loop with
    # its siblings (a restored microVM has a kernel of its own): each child leaves that loop for one of its own.
    random.setstate(snapshot_random)
    api_handler._loop = None
    if renew:
        for hook, args, kwargs in snapshot_restore_py.get_after_restore():
            hook(*args, **kwargs)
    # The first draws, before serving: how many a sign-in makes depends on what its sibling did meanwhile.
    first_draw = random.getrandbits(64)
    with tracing.invocation("snapstart-probe"):
        trace_id = tracing.current_trace_id()
    token = sign_in(email, password, source_ip=f"10.0.1.{list(INSTANCES).index(name)}")
    report = {
        "random": first_draw,
        "trace_id": trace_id,
        "ulid": str(ULID()),
        "redis_client_id": redis_client_id(),
        "dynamodb_client_from_snapshot": getattr(dynamodb_client(), "from_snapshot", False),
        "token": token,
    }
    (directory / f"{name}.json").write_text(json.dumps(report))


def main(directory: Path, email: str, password: str) -> None:
    sign_in(email, password, source_ip="10.0.0.1")
    dynamodb_client().from_snapshot = True
    (directory / "initialised.json").write_text(json.dumps({"redis_client_id": redis_client_id()}))
    for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
        hook(*args, **kwargs)
    print("snapshot taken", flush=True)
    if sys.stdin.readline().strip() != "restore":
        raise SystemExit("expected 'restore'")
    children = []
    snapshot_random = random.getstate()
    for name, renew in INSTANCES.items():
        pid = os.fork()
        if pid == 0:
            try:
                restored(name, renew, email, password, directory, snapshot_random)
            except BaseException:  # noqa: BLE001 (any failure is the test's to read, in the file)
                (directory / f"{name}.error").write_text(traceback.format_exc())
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
