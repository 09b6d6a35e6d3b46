"""How long each stage of `make test` took, printed at its end so that every CI log shows where time went.

`stages.py run NAME -- COMMAND...` runs COMMAND and, when STAGES_FILE names a file, appends one record to it: the
stage's name, when it started and how long it took. The suite adds one record per test module (tests/conftest.py,
`pytest --stages-file`).
`stages.py report` prints them in the order they started, with when each started after the first and the processor
time they used (a test module's: its worker's and the processes the worker waited for, not a Docker engine's).

Standard library only, and run as a script: the venvs are stages too, so it runs on the bare interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

VARIABLE = "STAGES_FILE"


def record(stage: str, started: float, seconds: float, file: str | None = None, cpu: float | None = None) -> None:
    """One line of JSON, written at once (O_APPEND), to `file` or else STAGES_FILE's: parallel stages and test
    workers share it. Nothing without either. `cpu`: the processor seconds it used, where they can be counted."""
    path = os.environ.get(VARIABLE) if file is None else file
    if path:
        entry = {"stage": stage, "started": started, "seconds": round(seconds, 1), "cpu": cpu and round(cpu, 1)}
        line = json.dumps(entry) + "\n"
        with Path(path).open("a") as records:
            records.write(line)


def run(stage: str, command: list[str]) -> int:
    started, clock = time.time(), time.monotonic()
    # Without the file: what a stage runs is part of it (the suite is told where to put its modules' times).
    environment = {name: value for name, value in os.environ.items() if name != VARIABLE}
    returncode = subprocess.call(command, env=environment)  # noqa: S603 (the Makefile's own recipes)
    # The command's and every descendant's that was waited for: on 2 cores, what parallel stages compete for.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = children.ru_utime + children.ru_stime
    record(stage if returncode == 0 else f"{stage} (failed)", started, time.monotonic() - clock, cpu=cpu)
    return returncode


@dataclass
class Stage:
    started: float
    seconds: float = 0.0
    cpu: float | None = None  # where it was counted


def report(path: Path) -> str:
    """One row a stage, in the order they started: a stage of several commands is their sum, from its first start."""
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if not records:
        return "no stage was timed"
    stages: dict[str, Stage] = {}
    for entry in sorted(records, key=lambda entry: entry["started"]):
        stage = stages.setdefault(entry["stage"], Stage(entry["started"]))
        stage.seconds += entry["seconds"]
        if entry.get("cpu") is not None:
            stage.cpu = (stage.cpu or 0.0) + entry["cpu"]
    first = min(entry["started"] for entry in records)
    wall = max(entry["started"] + entry["seconds"] for entry in records) - first
    width = max(len(name) for name in [*stages, "wall clock"])
    lines = [f"{'stage':<{width}}  {'start s':>7}  {'seconds':>7}  {'cpu s':>7}"]
    # Test modules of under a second share a row, unless they carry processor time (a worker's session teardown's).
    quick = {
        name: stage
        for name, stage in stages.items()
        if name.startswith("pytest ") and stage.seconds < 1 and (stage.cpu or 0.0) < 1
    }
    for name, stage in stages.items():
        if name not in quick:
            cpu = "-" if stage.cpu is None else f"{stage.cpu:.1f}"
            lines.append(f"{name:<{width}}  {stage.started - first:>7.0f}  {stage.seconds:>7.1f}  {cpu:>7}")
    if quick:
        seconds = sum(stage.seconds for stage in quick.values())
        quick_cpu = sum(stage.cpu or 0.0 for stage in quick.values())
        row = f"pytest, {len(quick)} modules of under 1 s"
        lines.append(f"{row:<{width}}  {'':>7}  {seconds:>7.1f}  {quick_cpu:>7.1f}")
    lines.append(f"{'wall clock':<{width}}  {'':>7}  {wall:>7.1f}")
    return "\n".join(lines)


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["run"] and len(arguments) > 3 and arguments[2] == "--":
        return run(arguments[1], arguments[3:])
    if arguments == ["report"]:
        print(report(Path(os.environ.get(VARIABLE, ".stages.jsonl"))))
        return 0
    print("usage: stages.py run NAME -- COMMAND... | stages.py report", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
