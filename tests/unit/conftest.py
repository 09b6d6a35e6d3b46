"""Unit fixtures: in-process moto (`mock_aws`) with the template's tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from infra.aws.bootstrap import create_tables
from watchlist_core.settings import get_settings
from watchlist_core.wiring import Services, get_services


@pytest.fixture
def services() -> Iterator[Services]:
    with mock_aws():
        create_tables(get_settings())
        yield get_services()
