"""make test's table of stages (infra/commands/stages.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import ROOT
from infra.commands import stages

SCRIPT = str(ROOT / "infra" / "commands" / "stages.py")


def test_a_stage_is_timed_by_its_command_and_passes_on_its_exit_status(tmp_path: Path) -> None:
    file = tmp_path / "stages.jsonl"
    environment = {"STAGES_FILE": str(file), "PATH": "/usr/bin:/bin"}
    sleep = [sys.executable, "-c", "import time; sum(range(5_000_000)); time.sleep(0.5)"]
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    assert subprocess.run([sys.executable, SCRIPT, "run", "lint", "--", *sleep], env=environment).returncode == 0  # noqa: S603
    assert subprocess.run([sys.executable, SCRIPT, "run", "types", "--", *fail], env=environment).returncode == 3  # noqa: S603
    assert subprocess.run([sys.executable, SCRIPT, "run", "lint", "--", *sleep], env=environment).returncode == 0  # noqa: S603
    table = stages.report(file).splitlines()
    assert [line.split()[0] for line in table] == ["stage", "lint", "types", "wall"]
    assert "(failed)" in table[2]
    lint_seconds, lint_cpu = (float(column) for column in table[1].split()[-2:])
    assert lint_seconds >= 1.0  # both of its commands
    assert 0 < lint_cpu < lint_seconds  # they counted, then slept
    assert float(table[-1].split()[-1]) >= lint_seconds


def test_without_a_stages_file_the_command_runs_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STAGES_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert stages.main(["run", "lint", "--", sys.executable, "-c", "raise SystemExit(0)"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert stages.report(tmp_path / "none.jsonl") == "no stage was timed"


def test_test_modules_of_under_a_second_share_one_row(tmp_path: Path) -> None:
    file = str(tmp_path / "stages.jsonl")
    stages.record("pytest tests/unit/test_a.py", 100.0, 0.2, file, cpu=0.1)
    stages.record("pytest tests/unit/test_b.py", 100.2, 0.3, file, cpu=0.2)
    stages.record("pytest tests/e2e/test_c.py", 100.0, 30.0, file, cpu=12.0)
    rows = stages.report(Path(file)).splitlines()
    assert [row.split("  ")[0].strip() for row in rows] == [
        "stage",
        "pytest tests/e2e/test_c.py",
        "pytest, 2 modules of under 1 s",
        "wall clock",
    ]
    assert rows[1].split()[-1] == "12.0"
    assert rows[2].split()[-2:] == ["0.5", "0.3"]


def test_the_suite_records_each_module_with_its_time_and_processor_time(tmp_path: Path) -> None:
    """tests/conftest.py's --stages-file: one record for the module, its processor time counted."""
    file = tmp_path / "stages.jsonl"
    test = "tests/unit/test_stages.py::test_test_modules_of_under_a_second_share_one_row"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov", test]
    command.append(f"--stages-file={file}")
    # A run of its own, not one of this run's xdist workers (whose name the record would carry).
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST_")}
    subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, check=True)  # noqa: S603
    [entry] = [json.loads(line) for line in file.read_text().splitlines()]
    assert entry["stage"] == "pytest tests/unit/test_stages.py, and the session's teardown"
    assert 0 <= entry["seconds"] < 60
    assert entry["cpu"] is not None
    assert 0 <= entry["cpu"] < 60
