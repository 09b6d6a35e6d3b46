"""What the container tooling installs on a machine that lacks it (infra/containers/engine.py)."""

from __future__ import annotations

import pytest

from infra.containers import engine


def test_only_the_packages_of_missing_programs_are_installed_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[str] = []
    monkeypatch.setattr(engine, "apt_install", lambda *packages: installed.extend(packages))
    engine.install_missing({"sh": "dash=1", "no-such-program-a": "tools=2", "no-such-program-b": "tools=2"})
    assert installed == ["tools=2"]
    engine.install_missing({"sh": "dash=1"})
    assert installed == ["tools=2"]
