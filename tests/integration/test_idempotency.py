"""The Idempotency-Key header on writes, through the Lambda handler against the moto server."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.aws.calls import tally_aws_calls
from infra.local.events import LambdaContext
from tests.support import PASSWORD, Api, ApiResponse, unique_email
from watchlist_core.domain import ItemDraft
from watchlist_core.errors import RequestInProgressError
from watchlist_core.wiring import get_services

DUNE = {"title": "Dune", "type": "movie"}
REPLAYED = ("content-type", "etag", "location")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _same_response(first: ApiResponse, second: ApiResponse) -> None:
    assert (second.status, second.body) == (first.status, first.body)
    assert [second.header(name) for name in REPLAYED] == [first.header(name) for name in REPLAYED]


def test_a_create_retried_with_the_same_key_is_done_once_and_answered_alike(api: Api) -> None:
    _, token = api.new_user()
    key = _key()
    with tally_aws_calls("dynamodb") as dynamodb, tally_aws_calls("sqs") as sqs:
        first = api.post("/v1/watchlists/items", token=token, json=DUNE, headers=key)
        retried = api.post("/v1/watchlists/items", token=token, json=DUNE, headers=key)
    assert first.status == 201
    _same_response(first, retried)
    assert dynamodb.operations["TransactWriteItems"] == 1  # one item, one outbox row
    assert sqs.operations["SendMessage"] == 1  # one audit event
    assert api.get("/v1/watchlists", token=token).json()["total"] == 1


def test_the_key_may_be_sent_as_the_drafts_quoted_string(api: Api) -> None:
    _, token = api.new_user()
    key = str(uuid.uuid4())
    first = api.post("/v1/watchlists/items", token=token, json=DUNE, headers={"Idempotency-Key": f'"{key}"'})
    _same_response(first, api.post("/v1/watchlists/items", token=token, json=DUNE, headers={"Idempotency-Key": key}))


def test_a_used_key_with_a_different_request_is_422(api: Api) -> None:
    _, token = api.new_user()
    key = _key()
    assert api.post("/v1/watchlists/items", token=token, json=DUNE, headers=key).status == 201
    other = api.post("/v1/watchlists/items", token=token, json={"title": "Tenet", "type": "movie"}, headers=key)
    assert other.status == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.get("/v1/watchlists", token=token).json()["total"] == 1


def test_another_callers_same_key_is_their_own(api: Api) -> None:
    key = _key()
    _, ann = api.new_user()
    _, bob = api.new_user()
    for_ann = api.post("/v1/watchlists/items", token=ann, json=DUNE, headers=key)
    for_bob = api.post("/v1/watchlists/items", token=bob, json=DUNE, headers=key)
    assert for_ann.status == for_bob.status == 201
    assert for_ann.json()["id"] != for_bob.json()["id"]
    assert api.get("/v1/watchlists", token=bob).json()["items"][0]["id"] == for_bob.json()["id"]


def test_a_twin_of_a_request_still_in_progress_is_409_with_retry_after(api: Api) -> None:
    _, token = api.new_user()
    caller = api.get("/v1/auth/me", token=token).json()["id"]
    key = str(uuid.uuid4())
    started, release = threading.Event(), threading.Event()

    def slow_first_attempt() -> dict[str, Any]:
        started.set()
        release.wait(timeout=30)
        return {"status": 201, "headers": {}, "body": "{}"}

    # What the route sends for this body: the first attempt and its twin are the same request.
    request = {
        "method": "POST",
        "path": "/v1/watchlists/items",
        "body": ItemDraft.model_validate(DUNE).model_dump(mode="json"),
    }
    answer = get_services().idempotency.answer
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(answer, caller, key, request, slow_first_attempt, LambdaContext())
        assert started.wait(timeout=30)
        twin = api.post("/v1/watchlists/items", token=token, json=DUNE, headers={"Idempotency-Key": key})
        release.set()
        assert first.result()["status"] == 201
    assert twin.status == 409
    assert twin.header("retry-after") == "1"
    assert api.get("/v1/watchlists", token=token).json()["total"] == 0


def test_concurrent_attempts_with_one_key_do_the_work_once(api: Api) -> None:
    done = []
    lock = threading.Lock()

    def work() -> dict[str, Any]:
        with lock:
            done.append(1)
        return {"status": 201, "headers": {}, "body": str(len(done))}

    idempotency = get_services().idempotency
    key, request = str(uuid.uuid4()), {"method": "POST", "path": "/v1/watchlists/items", "body": DUNE}

    def attempt(_: int) -> str:
        try:
            return str(idempotency.answer("user-1", key, request, work, LambdaContext())["body"])
        except RequestInProgressError:
            return "409"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    assert len(done) == 1
    assert set(outcomes) <= {"1", "409"}
    assert "1" in outcomes


def test_a_failed_write_is_not_remembered_and_can_be_retried(api: Api) -> None:
    _, token = api.new_user()
    key = _key()
    missing = "/v1/watchlists/items/01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert api.patch(missing, token=token, json={"status": "watching"}, headers=key).status == 404
    assert api.patch(missing, token=token, json={"status": "watching"}, headers=key).status == 404


def test_a_registration_retried_with_the_same_key_creates_one_account(api: Api) -> None:
    key = _key()
    body = {"email": unique_email(), "password": PASSWORD}
    first = api.post("/v1/auth/register", json=body, headers=key)
    retried = api.post("/v1/auth/register", json=body, headers=key)
    assert first.status == 201
    _same_response(first, retried)
    without_key = api.post("/v1/auth/register", json=body)
    assert without_key.status == 409  # the account exists once


def test_a_strangers_registration_with_someones_key_and_address_gets_none_of_their_answer(api: Api) -> None:
    key = _key()
    email = unique_email()
    owner = api.post("/v1/auth/register", json={"email": email, "password": PASSWORD}, headers=key)
    assert owner.status == 201
    stranger = Api(api.handler, source_ip="198.51.100.23")
    guess = stranger.post("/v1/auth/register", json={"email": email, "password": "not their password"}, headers=key)
    assert guess.status == 422  # the key was used for another request: not the owner's 201 and id
    assert owner.json()["id"] not in guess.body.decode()
    assert guess.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_registration_key_in_use_blocks_no_other_registrant(api: Api) -> None:
    key = _key()
    first = api.post("/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}, headers=key)
    second = api.post("/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}, headers=key)
    assert first.status == second.status == 201
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("value", ["", '""', "x" * 256, "two words"])
def test_a_malformed_key_is_422(api: Api, value: str) -> None:
    _, token = api.new_user()
    response = api.post("/v1/watchlists/items", token=token, json=DUNE, headers={"Idempotency-Key": value})
    assert response.status == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
