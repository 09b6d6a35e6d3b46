import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infra.local.signing_key import KEY_FILE, local_signing_key


def test_each_local_stack_has_its_own_key_kept_for_its_restarts(tmp_path: Path) -> None:
    first = local_signing_key(tmp_path / "stack-a")
    assert len(first.encode()) >= 32
    assert local_signing_key(tmp_path / "stack-a") == first  # a restart keeps the sessions
    assert local_signing_key(tmp_path / "stack-b") != first
    assert stat.S_IMODE((tmp_path / "stack-a" / KEY_FILE).stat().st_mode) == 0o600


def test_stacks_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: local_signing_key(tmp_path), range(32)))
    assert len(keys) == 1
    assert [path.name for path in tmp_path.iterdir()] == [KEY_FILE]  # no draft left behind
