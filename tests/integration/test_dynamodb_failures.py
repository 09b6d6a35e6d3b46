"""A dead or hung DynamoDB: every endpoint answers 503 with Retry-After, never a 500 and never a hang."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.aws.bootstrap import create_tables
from infra.local.moto_server import MotoServer
from tests.support import Api
from watchlist_core import wiring
from watchlist_core.settings import get_settings
from watchlist_core.storage.outage import DynamoDBPaused, Outage
from watchlist_core.storage.tables import UserRecord

ITEM = {"title": "Arrival", "type": "movie"}


@pytest.fixture
def own_dynamodb(dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A moto server this test alone uses, so it can stop or freeze it; the deployed timeouts and pause."""
    with MotoServer() as server:
        monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", server.endpoint_url)
        monkeypatch.delenv("DYNAMODB_READ_TIMEOUT_SECONDS")
        wiring.reset()
        create_tables(get_settings())
        yield server
        server.thaw()


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DynamoDB calls the outage pause refused, by operation, without sending them."""
    refused: list[str] = []
    refuse = Outage._refuse_while_paused

    def spy(self: Outage, **kwargs: object) -> None:
        try:
            refuse(self, **kwargs)
        except DynamoDBPaused:
            refused.append(str(kwargs["event_name"]).rsplit(".", 1)[1])
            raise

    monkeypatch.setattr(Outage, "_refuse_while_paused", spy)
    return refused


def _assert_unavailable(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status == 503, response.body
    assert response.header("content-type") == "application/problem+json"
    assert response.header("retry-after") == "1"


def test_the_deployed_limits_bound_one_call_to_under_three_seconds(own_dynamodb: MotoServer) -> None:
    wiring.get_services()  # binds the records to the settings
    config = UserRecord._get_connection().connection.client.meta.config
    attempts = config.retries["total_max_attempts"]
    # Two attempts, each at most a connect or a read timeout, and botocore's back-off before the retry (< 1 s).
    assert (config.connect_timeout, config.read_timeout, attempts) == (0.5, 0.8, 2)
    assert attempts * max(config.connect_timeout, config.read_timeout) + 1 < 3


def test_a_dead_dynamodb_gives_503_on_writes_and_registration(api: Api, own_dynamodb: MotoServer) -> None:
    _, token = api.new_user()
    own_dynamodb.stop()
    _assert_unavailable(api.post("/v1/watchlists/items", token=token, json=ITEM))
    wiring.reset()  # a fresh instance: no pause yet
    _assert_unavailable(api.post("/v1/auth/register", json={"email": "x@example.com", "password": "long password"}))


def test_a_hung_dynamodb_gives_503_and_later_calls_are_refused_without_waiting(
    api: Api, own_dynamodb: MotoServer, refusals: list[str]
) -> None:
    _, token = api.new_user()
    item = api.post("/v1/watchlists/items", token=token, json=ITEM).json()
    own_dynamodb.freeze()
    _assert_unavailable(api.get(f"/v1/watchlists/items/{item['id']}", token=token))
    assert refusals == []  # the first call waited out its budget
    _assert_unavailable(api.post("/v1/watchlists/items", token=token, json=ITEM))
    _assert_unavailable(api.get("/v1/watchlists", token=token, query={"type": "show"}))
    assert refusals  # the pause: refused before any byte was sent
    own_dynamodb.thaw()
