"""What the container tooling installs on a machine that lacks it (infra/containers/engine.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from infra import ROOT
from infra.containers import engine


def test_only_the_packages_of_missing_programs_are_installed_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[str] = []
    monkeypatch.setattr(engine, "apt_install", lambda *packages: installed.extend(packages))
    engine.install_missing({"sh": "dash=1", "no-such-program-a": "tools=2", "no-such-program-b": "tools=2"})
    assert installed == ["tools=2"]
    engine.install_missing({"sh": "dash=1"})
    assert installed == ["tools=2"]


def test_a_program_another_install_brought_meanwhile_is_not_installed_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """make test prepares the images and the arm64 root at once; on a fresh machine both want debootstrap."""
    monkeypatch.setattr(engine, "MACHINE_STATE", tmp_path)
    on_path: set[str] = set()
    monkeypatch.setattr(shutil, "which", lambda program: program if program in on_path else None)
    installed: list[str] = []
    monkeypatch.setattr(engine, "apt_install", lambda *packages: installed.extend(packages))
    with engine.apt_lock():  # the other install, under way
        waiting = threading.Thread(target=engine.install_missing, args=({"debootstrap": "debootstrap=1"},))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "install_missing did not wait for the lock"
        on_path.add("debootstrap")
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert installed == []


def test_preparing_the_images_and_root_imports_only_what_its_own_venv_holds() -> None:
    """make test runs infra/containers/prepare.py from .venv-containers (infra/containers/requirements.txt: Compose
    and PyYAML), before the development venv is installed: no other installed package may be imported."""
    code = (
        "import json, sys, sysconfig, infra.containers.prepare; "
        "installed = sysconfig.get_paths()['purelib']; "
        "print(json.dumps(sorted({name.split('.')[0] for name, module in list(sys.modules.items()) "
        "if (getattr(module, '__file__', None) or '').startswith(installed)})))"
    )
    # Without the suite's coverage of subprocesses (coverage's `patch = subprocess`), which the venv does not have.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_PROCESS_")}
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
    assert json.loads(result.stdout) == ["yaml"]
