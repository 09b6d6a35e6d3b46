"""How long each stage of `make test` took, printed at its end so that every CI log shows where time went.

`stages.py run NAME -- COMMAND...` runs COMMAND and, when STAGES_FILE names a file, appends one record to it: the
stage's name, when it started and how long it took. The suite adds one record per test module (tests/conftest.py,
`pytest --stages-file`).
`stages.py report` prints them in the order they started, with when each started after the first.

Standard library only, and run as a script: the venvs are stages too, so it runs on the bare interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

VARIABLE = "STAGES_FILE"


def record(stage: str, started: float, seconds: float, file: str | None = None) -> None:
    """One line of JSON, written at once (O_APPEND), to `file` or else STAGES_FILE's: parallel stages and test
    workers share it. Nothing without either."""
    path = os.environ.get(VARIABLE) if file is None else file
    if path:
        line = json.dumps({"stage": stage, "started": started, "seconds": round(seconds, 1)}) + "\n"
        with Path(path).open("a") as records:
            records.write(line)


def run(stage: str, command: list[str]) -> int:
    started, clock = time.time(), time.monotonic()
    # Without the file: what a stage runs is part of it (the suite is told where to put its modules' times).
    environment = {name: value for name, value in os.environ.items() if name != VARIABLE}
    returncode = subprocess.call(command, env=environment)  # noqa: S603 (the Makefile's own recipes)
    record(stage if returncode == 0 else f"{stage} (failed)", started, time.monotonic() - clock)
    return returncode


def report(path: Path) -> str:
    """One row a stage, in the order they started: a stage of several commands is their sum, from its first start."""
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if not records:
        return "no stage was timed"
    stages: dict[str, list[float]] = {}
    for entry in sorted(records, key=lambda entry: entry["started"]):
        started_and_seconds = stages.setdefault(entry["stage"], [entry["started"], 0.0])
        started_and_seconds[1] += entry["seconds"]
    first = min(started for started, _ in stages.values())
    wall = max(entry["started"] + entry["seconds"] for entry in records) - first
    width = max(len(stage) for stage in stages)
    lines = [f"{'stage':<{width}}  {'start s':>7}  {'seconds':>7}"]
    for stage, (started, seconds) in stages.items():
        lines.append(f"{stage:<{width}}  {started - first:>7.0f}  {seconds:>7.1f}")
    lines.append(f"{'wall clock, first start to last end':<{width}}  {'':>7}  {wall:>7.1f}")
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
