"""Fixtures shared by every test: a clean configuration per test, and no real AWS ever."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT
from tests.support import TEST_SIGNING_KEY
from watchlist_core import wiring
from watchlist_core.settings import Settings

SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields} - {"AWS_REGION", "STAGE"}


@pytest.fixture(autouse=True)
def clean_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, local stage, the suite's signing key, and settings and services rebuilt from this test's
    environment."""
    for name, value in LOCAL_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in os.environ:
        if name.upper() in SETTINGS_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("JWT_SECRET", TEST_SIGNING_KEY)
    wiring.reset()
    yield
    wiring.reset()
