"""Fixtures shared by every test: a clean configuration per test, and no real AWS ever."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from watchlist_core import wiring
from watchlist_core.settings import Settings

SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields} - {"AWS_REGION", "STAGE"}

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "STAGE": "local",
}


@pytest.fixture(autouse=True)
def clean_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, local stage, and settings and services rebuilt from this test's environment."""
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    for name in os.environ:
        if name.upper() in SETTINGS_VARIABLES:
            monkeypatch.delenv(name)
    wiring.reset()
    yield
    wiring.reset()
