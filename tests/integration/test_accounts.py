"""The caller's own account: their sessions, a password change that ends every other session, their profile, its
export and its deletion."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from infra.local.sqs_poller import QueuePoller
from tests.support import PASSWORD, Api, seed_items, unique_email
from watchlist_api import problems
from watchlist_core.storage import items as items_module
from watchlist_core.storage.sessions import SessionStore
from watchlist_core.storage.tables import ItemRecord
from watchlist_core.wiring import get_services

NEW_PASSWORD = "a new passphrase 2"


def sign_in(api: Api, email: str, user_agent: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.post(
        "/v1/auth/login", json={"email": email, "password": password}, headers={"User-Agent": user_agent}
    )
    assert response.status == 200, response.body
    return dict(response.json())


def test_the_caller_lists_their_live_sessions_and_ends_one_at_once(api: Api) -> None:
    user = api.register()
    phone = sign_in(Api(api.handler, source_ip="198.51.100.7"), user["email"], "Phone/1.0")
    laptop = sign_in(api, user["email"], "Laptop/2.0\u0007 with a bell")
    listed = api.get("/v1/auth/sessions", token=laptop["access_token"])
    assert (listed.status, listed.header("cache-control")) == (200, "no-store")
    sessions = listed.json()
    assert [(s["user_agent"], s["source_ip"], s["current"]) for s in sessions] == [
        ("Laptop/2.0 with a bell", "203.0.113.7", True),  # newest first; no control character kept
        ("Phone/1.0", "198.51.100.7", False),
    ]
    assert all(s["created_at"].endswith("Z") and s["last_used_at"] == s["created_at"] for s in sessions)
    phone_session = sessions[1]["id"]

    # Another user cannot see or end it: 404, as for an id that does not exist.
    _, stranger = api.new_user()
    assert api.delete(f"/v1/auth/sessions/{phone_session}", token=stranger).status == 404
    assert api.get("/v1/auth/me", token=phone["access_token"]).status == 200

    assert api.delete(f"/v1/auth/sessions/{phone_session}", token=laptop["access_token"]).status == 204
    assert api.get("/v1/auth/me", token=phone["access_token"]).status == 401
    assert api.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status == 401
    assert api.delete(f"/v1/auth/sessions/{phone_session}", token=laptop["access_token"]).status == 404  # ended
    assert [s["current"] for s in api.get("/v1/auth/sessions", token=laptop["access_token"]).json()] == [True]


def test_a_refresh_is_when_a_session_was_last_used(api: Api) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    renewed = api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    [session] = api.get("/v1/auth/sessions", token=renewed["access_token"]).json()
    assert session["last_used_at"] >= session["created_at"]
    assert session["current"]


def test_a_password_change_ends_every_other_session_and_keeps_the_callers(redis_api: Api) -> None:
    """On one Redis server and on a cluster: every access and refresh token of the other sessions stops at once."""
    user = redis_api.register()
    others = [redis_api.login(user["email"]) for _ in range(3)]
    mine = redis_api.login(user["email"])
    for other in others:
        assert redis_api.get("/v1/auth/me", token=other["access_token"]).status == 200
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert redis_api.post("/v1/auth/password", token=mine["access_token"], json=change).status == 204
    for other in others:
        assert redis_api.get("/v1/auth/me", token=other["access_token"]).status == 401
        assert redis_api.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status == 401
    assert redis_api.get("/v1/auth/me", token=mine["access_token"]).status == 200
    assert redis_api.post("/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]}).status == 200
    old = redis_api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status == 401
    assert redis_api.login(user["email"], NEW_PASSWORD)["access_token"]


def test_a_session_the_index_has_not_shown_yet_cannot_refresh_after_a_password_change(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sessions index is eventually consistent: a session begun a moment before the change may be missing from
    it. The account's record of the change refuses that session's refresh all the same."""
    user = api.register()
    unseen, mine = api.login(user["email"]), api.login(user["email"])
    monkeypatch.setattr(SessionStore, "live_of", lambda self, user_id: [])  # the index has shown neither yet
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api.post("/v1/auth/password", token=mine["access_token"], json=change).status == 204
    assert api.post("/v1/auth/refresh", json={"refresh_token": unseen["refresh_token"]}).status == 401
    assert api.post("/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]}).status == 200
    again = api.login(user["email"], NEW_PASSWORD)  # a session begun after the change refreshes as ever
    assert api.post("/v1/auth/refresh", json={"refresh_token": again["refresh_token"]}).status == 200


def test_a_wrong_current_password_is_400_changes_nothing_and_counts_as_a_failed_sign_in(redis_api: Api) -> None:
    user = redis_api.register()
    token = redis_api.login(user["email"])["access_token"]
    wrong = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    answers = [redis_api.post("/v1/auth/password", token=token, json=wrong) for _ in range(6)]
    assert [answer.status for answer in answers] == [400] * 5 + [429]
    assert answers[0].json()["type"].endswith("wrong-password")
    # The throttle held this address back from signing in as well; the password is unchanged for the others.
    assert Api(redis_api.handler, source_ip="192.0.2.44").login(user["email"])["access_token"]


def test_a_new_password_follows_the_registration_rules(api: Api) -> None:
    user, token = api.new_user()
    for weak in ("password1", " " * 8, "short"):
        change = {"current_password": PASSWORD, "new_password": weak}
        assert api.post("/v1/auth/password", token=token, json=change).status == 422
    assert api.login(user["email"])["access_token"]


def test_the_caller_changes_their_display_name_seen_at_once_and_audited(api: Api, admin_token: str) -> None:
    user, token = api.new_user()
    assert api.get("/v1/auth/me", token=token).json()["display_name"] != "Ada"  # now in the response cache
    changed = api.patch("/v1/auth/me", token=token, json={"display_name": "Ada"})
    assert (changed.status, changed.json()["display_name"]) == (200, "Ada")
    assert changed.header("etag")
    assert api.get("/v1/auth/me", token=token).json()["display_name"] == "Ada"
    listed = api.get("/v1/admin/users", token=admin_token, query={"limit": 100})
    while not any(entry["id"] == user["id"] for entry in listed.json()["items"]) and listed.json()["next_cursor"]:
        cursor = listed.json()["next_cursor"]
        listed = api.get("/v1/admin/users", token=admin_token, query={"limit": 100, "cursor": cursor})
    assert [entry["display_name"] for entry in listed.json()["items"] if entry["id"] == user["id"]] == ["Ada"]
    for refused in ({"display_name": None}, {"display_name": "a\u0000b"}, {"email": unique_email()}, {"role": "admin"}):
        assert api.patch("/v1/auth/me", token=token, json=refused).status == 422


def deleted_events(api: Api, admin_token: str, user_id: str) -> list[dict[str, Any]]:
    """The stored `account.deleted` events about this user."""
    response = api.get("/v1/admin/audit", token=admin_token, query={"action": "account.deleted", "limit": 100})
    assert response.status == 200, response.body
    return [event for event in response.json()["items"] if event["target"]["id"] == user_id]


def test_the_caller_deletes_their_account_with_its_password_and_nothing_of_it_is_left(
    redis_api: Api, admin_token: str, poller: QueuePoller
) -> None:
    """On one Redis server and on a cluster: every token of every session stops at once; the items, the account and
    its e-mail claim are gone, so the address registers again at once; the trail keeps the event, nameless."""
    api = redis_api
    user = api.register()
    sessions = [api.login(user["email"]) for _ in range(2)]
    token = sessions[-1]["access_token"]
    for title in ("Alien", "Heat"):
        assert api.post("/v1/watchlists/items", token=token, json={"title": title, "type": "movie"}).status == 201
    users_before = get_services().admin.list_users(1, None).total

    wrong = api.delete("/v1/auth/me", token=token, json={"current_password": "not the password"})
    assert (wrong.status, wrong.json()["type"]) == (400, "urn:watchlist:problem:wrong-password")
    assert api.get("/v1/auth/me", token=token).status == 200
    assert api.delete("/v1/auth/me", token=token, json={}).status == 422

    assert api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD}).status == 204
    for tokens in sessions:
        assert api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
        assert api.get("/v1/watchlists", token=tokens["access_token"]).status == 401
        assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401
    assert list(ItemRecord.query(user["id"], consistent_read=True)) == []
    assert get_services().admin.list_users(1, None).total == users_before - 1
    assert api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 401
    again = api.register(user["email"])
    assert again["id"] != user["id"]

    poller.drain()
    [event] = deleted_events(api, admin_token, user["id"])
    assert (event["actor_id"], event["target"]) == (user["id"], {"type": "user", "id": user["id"], "owner_id": None})
    assert event["changes"] is None
    assert user["email"] not in json.dumps(event)
    assert user["display_name"] not in json.dumps(event)


def test_a_wrong_password_for_a_deletion_counts_as_a_failed_sign_in(redis_api: Api) -> None:
    user, token = redis_api.new_user()
    wrong = {"current_password": "not the password"}
    answers = [redis_api.delete("/v1/auth/me", token=token, json=wrong) for _ in range(6)]
    assert [answer.status for answer in answers] == [400] * 5 + [429]
    assert redis_api.get("/v1/auth/me", token=token).json()["id"] == user["id"]


def test_a_deletion_cut_short_while_purging_items_is_finished_by_asking_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB throttles for good after a few batches of items: the account is still there, and so is its owner's
    session, so they ask again with the same token, which deletes the rest and leaves nothing behind."""
    user = api.register()
    seed_items(user["id"], 120)  # five batches
    delete_items = items_module._delete_items
    calls = itertools.count()

    def dies_after_two_batches(user_id: str, item_ids: list[str]) -> int:
        if next(calls) >= 2:
            throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchWriteItem")
            raise PutError("Failed to batch write items", throttled)
        return delete_items(user_id, item_ids)

    token = api.login(user["email"])["access_token"]
    with monkeypatch.context() as patch:
        patch.setattr(items_module, "_delete_items", dies_after_two_batches)
        assert api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD}).status == 503
    left = len(list(ItemRecord.query(user["id"], consistent_read=True)))
    assert 0 < left <= 120 - 50

    assert api.get("/v1/watchlists", token=token).json()["items"]
    assert api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD}).status == 204
    assert api.get("/v1/auth/me", token=token).status == 401
    assert list(ItemRecord.query(user["id"], consistent_read=True)) == []
    assert api.register(user["email"])["id"] != user["id"]


def test_a_deletion_longer_than_one_request_may_take_answers_503_and_goes_on_when_asked_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watchlist larger than DynamoDB lets one request delete (a partition takes ~1,000 writes a second): past its
    budget the purge begins no batch, the answer is 503 with Retry-After (never the function's timeout), the other
    sessions have ended, the caller's goes on, and asking again finishes."""
    user = api.register()
    seed_items(user["id"], 60)
    other = api.login(user["email"])["access_token"]
    token = api.login(user["email"])["access_token"]
    monkeypatch.setattr(items_module, "PURGE_BUDGET_SECONDS", 0.0)
    first = api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD})
    assert (first.status, first.header("retry-after")) == (503, "1")
    assert api.get("/v1/auth/me", token=other).status == 401
    assert len(list(ItemRecord.query(user["id"], consistent_read=True))) == 60  # no batch begun past the budget
    monkeypatch.undo()
    assert api.delete("/v1/auth/me", token=token, json={"current_password": PASSWORD}).status == 204
    assert list(ItemRecord.query(user["id"], consistent_read=True)) == []


def test_the_caller_exports_their_profile_items_sessions_and_own_audit_events(api: Api, poller: QueuePoller) -> None:
    user = api.register()
    phone = sign_in(api, user["email"], "Phone/1.0")
    token = sign_in(api, user["email"], "Laptop/2.0")["access_token"]
    items = [
        api.post("/v1/watchlists/items", token=token, json={"title": title, "type": "show"}).json()
        for title in ("Dark", "Severance")
    ]
    _, stranger = api.new_user()
    api.post("/v1/watchlists/items", token=stranger, json={"title": "Not theirs", "type": "movie"})
    poller.drain()

    exported = api.get("/v1/auth/me/export", token=token)
    assert (exported.status, exported.header("cache-control"), exported.header("etag")) == (200, "no-store", None)
    document = exported.json()
    assert document["exported_at"].endswith("Z")
    assert document["profile"] == api.get("/v1/auth/me", token=token).json()
    assert document["items"] == items[::-1]  # newest first
    assert document["sessions"] == api.get("/v1/auth/sessions", token=token).json()
    assert [session["user_agent"] for session in document["sessions"]] == ["Laptop/2.0", "Phone/1.0"]
    events = document["audit_events"]
    assert {event["actor_id"] for event in events} == {user["id"]}
    assert [event["id"] for event in events] == sorted((event["id"] for event in events), reverse=True)
    assert sorted(event["action"] for event in events) == sorted(
        ["user.registered", "auth.login_succeeded", "auth.login_succeeded", "item.created", "item.created"]
    )
    assert phone["access_token"] not in exported.body.decode()


def test_an_export_larger_than_one_lambda_answer_is_a_507_problem_not_a_gateway_failure(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = api.new_user()
    monkeypatch.setattr(problems, "LAMBDA_RESPONSE_LIMIT", problems.HEADERS_ALLOWANCE + 100)  # 100 B for the body
    refused = api.get("/v1/auth/me/export", token=token)
    assert (refused.status, refused.header("content-type")) == (507, "application/problem+json")
    assert refused.json()["type"] == "urn:watchlist:problem:answer-too-large"
