"""SnapStart's hooks (watchlist_core/snapshots.py), run as Lambda runs them: an instance initialised and primed,
the before-snapshot hooks, a change to the world while the snapshot waits (the signing key rotated), then two
instances restored from the same memory (forks of the snapshotted process) that serve after the after-restore
hooks. They must not share random state, ids, connections or the old key; two forks without the hooks (the
control) show what the hooks prevent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from infra import ROOT
from infra.local.moto_server import MotoServer
from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from tests.support import PASSWORD, Api, unique_email

OLD_KEY = "k" * 64
NEW_KEY = "n" * 64


def restore_instances(
    tmp_path: Path, environment: dict[str, str], email: str, rotate: Callable[[], object]
) -> dict[str, Any]:
    """Runs tests/snapstart_instance.py; `rotate()` while the snapshot waits. What each instance reported."""
    command = [sys.executable, "-m", "tests.snapstart_instance", str(tmp_path), email, PASSWORD]
    instance = subprocess.Popen(  # noqa: S603 (our own module)
        command,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert instance.stdout is not None
    assert instance.stdin is not None
    try:
        while (line := instance.stdout.readline()) and line.strip() != "snapshot taken":
            pass
        assert line, "the instance exited before its snapshot"
        rotate()
        instance.stdin.write("restore\n")
        instance.stdin.close()
        assert instance.wait(timeout=60) == 0
    finally:
        if instance.poll() is None:  # the restored children too: they share its process group
            os.killpg(instance.pid, signal.SIGKILL)
            instance.wait()
        instance.stdout.close()
    errors = {path.stem: path.read_text() for path in tmp_path.glob("*.error")}
    assert not errors, errors
    return {path.stem: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}


@pytest.fixture
def instances(
    api: Api, moto_server: MotoServer, redis_server: RedisServer | LocalRedisCluster, tmp_path: Path
) -> dict[str, Any]:
    email = unique_email()
    api.register(email)
    secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)
    arn = secrets.create_secret(Name=f"snapstart-{email}", SecretString=OLD_KEY)["ARN"]
    environment = os.environ | {
        "JWT_SECRET_ARN": arn,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server.endpoint_url,
        "REDIS_URL": redis_server.url,
        "TRACING": "log",
    }
    return restore_instances(
        tmp_path, environment, email, lambda: secrets.put_secret_value(SecretId=arn, SecretString=NEW_KEY)
    )


def random_part(trace_id: str) -> str:
    """An X-Ray trace id's random part: it starts with the second it was made in (`1-<time>-<random>`), which two
    instances may or may not share."""
    return trace_id.rsplit("-", 1)[1]


def test_restored_instances_share_no_random_state_ids_connections_or_old_key(instances: dict[str, Any]) -> None:
    first, second = instances["restored-1"], instances["restored-2"]
    assert first["random"] != second["random"]
    assert random_part(first["trace_id"]) != random_part(second["trace_id"])
    assert first["ulid"] != second["ulid"]
    snapshotted_connection = instances["initialised"]["redis_client_id"]
    assert len({snapshotted_connection, first["redis_client_id"], second["redis_client_id"]}) == 3
    assert not first["dynamodb_client_from_snapshot"]
    assert not second["dynamodb_client_from_snapshot"]
    for restored in (first, second):
        assert jwt.decode(restored["token"], NEW_KEY, algorithms=["HS256"], options={"verify_aud": False})
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(restored["token"], OLD_KEY, algorithms=["HS256"], options={"verify_aud": False})


def test_without_the_after_restore_hook_two_instances_draw_the_same_numbers(instances: dict[str, Any]) -> None:
    # The control: the fork really copies the snapshot's memory, so the renewal above is what tells them apart.
    first, second = instances["unrenewed-1"], instances["unrenewed-2"]
    assert first["random"] == second["random"]
    assert random_part(first["trace_id"]) == random_part(second["trace_id"])
