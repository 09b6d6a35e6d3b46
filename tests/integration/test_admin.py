"""Admin endpoints: role checks, role changes, the last-admin guard, moderation."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.sqs_poller import QueuePoller
from tests.support import PASSWORD, Api
from watchlist_core import wiring
from watchlist_core.domain import User
from watchlist_core.storage.tables import ItemRecord
from watchlist_core.storage.users import UserStore
from watchlist_core.wiring import get_services

MISSING_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def deactivate_other_admins(api: Api, admin_token: str, keep: set[str]) -> None:
    """Every active admin but those in `keep` made inactive: the session's moto server holds other tests' admins too."""
    cursor = None
    while True:
        page = get_services().admin.list_users(100, cursor)
        for each in page.items:
            if each.role.value == "admin" and each.active and each.id not in keep:
                assert api.patch(f"/v1/admin/users/{each.id}", token=admin_token, json={"active": False}).status == 200
        if not (cursor := page.next_cursor):
            break


def test_users_get_403_on_every_admin_endpoint(api: Api) -> None:
    user, token = api.new_user()
    for method, path, body in [
        ("GET", "/v1/admin/users", None),
        ("PATCH", f"/v1/admin/users/{user['id']}", {"role": "admin"}),
        ("GET", f"/v1/admin/users/{user['id']}/watchlist", None),
        ("DELETE", f"/v1/admin/users/{user['id']}/items/{MISSING_ID}", None),
        ("DELETE", f"/v1/admin/users/{user['id']}", None),
    ]:
        response = api.request(method, path, token=token, json=body)
        assert response.status == 403, (method, path, response.body)
    assert api.get("/v1/auth/me", token=token).json()["role"] == "user"


def test_anonymous_callers_get_401_on_admin_endpoints(api: Api) -> None:
    assert api.get("/v1/admin/users").status == 401


def test_admin_pages_through_all_users(api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The session's moto server holds every test's users: small pages through all of them are more requests than the
    # admin's per-user limit allows in a minute, which is not under test here.
    monkeypatch.setenv("RATE_LIMIT_USER", "100000/60")
    wiring.reset()
    for _ in range(3):
        api.register()
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 7}
    total = None
    while True:
        page = api.get("/v1/admin/users", token=admin_token, query=query).json()
        total = page["total"]
        seen += [user["id"] for user in page["items"]]
        if not page["next_cursor"]:
            break
        query["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == total
    assert total >= 4


def test_role_changes_take_effect_at_once_and_the_last_admin_stays(api: Api, admin_token: str) -> None:
    user, user_token = api.new_user()
    promoted = api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"role": "admin"})
    assert promoted.status == 200
    assert promoted.json()["role"] == "admin"
    assert api.get("/v1/admin/users", token=user_token, query={"limit": 1}).status == 200

    demoted = api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"role": "user"})
    assert demoted.json()["role"] == "user"
    # The old token still says admin; the stored role decides.
    assert api.get("/v1/admin/users", token=user_token).status == 403


def test_the_last_admin_cannot_be_demoted(api: Api, admin_token: str) -> None:
    me = api.get("/v1/auth/me", token=admin_token).json()
    # Demote every other admin first (earlier tests may have made some), then try the last one.
    cursor = None
    while True:
        page = get_services().admin.list_users(100, cursor)
        for user in page.items:
            if user.role == "admin" and user.id != me["id"]:
                assert api.patch(f"/v1/admin/users/{user.id}", token=admin_token, json={"role": "user"}).status == 200
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    response = api.patch(f"/v1/admin/users/{me['id']}", token=admin_token, json={"role": "user"})
    assert response.status == 409
    assert api.get("/v1/auth/me", token=admin_token).json()["role"] == "admin"


@pytest.mark.parametrize("body", [{"role": "root"}, {"role": "admin", "email": "x@example.com"}, {}])
def test_role_change_bodies_are_validated(api: Api, admin_token: str, body: dict[str, str]) -> None:
    user = api.register()
    assert api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json=body).status == 422


def test_unknown_users_are_404(api: Api, admin_token: str) -> None:
    assert api.patch(f"/v1/admin/users/{MISSING_ID}", token=admin_token, json={"role": "admin"}).status == 404
    assert api.get(f"/v1/admin/users/{MISSING_ID}/watchlist", token=admin_token).status == 404
    assert api.delete(f"/v1/admin/users/{MISSING_ID}/items/{MISSING_ID}", token=admin_token).status == 404
    assert api.delete(f"/v1/admin/users/{MISSING_ID}", token=admin_token).status == 404


def test_admin_reads_and_moderates_a_users_watchlist(api: Api, admin_token: str) -> None:
    user, token = api.new_user()
    item = api.post("/v1/watchlists/items", token=token, json={"title": "Spam", "type": "show"}).json()
    api.post("/v1/watchlists/items", token=token, json={"title": "Keep", "type": "movie"})
    listing = api.get(f"/v1/admin/users/{user['id']}/watchlist", token=admin_token, query={"type": "show"})
    assert [i["title"] for i in listing.json()["items"]] == ["Spam"]
    deleted = api.delete(f"/v1/admin/users/{user['id']}/items/{item['id']}", token=admin_token)
    assert deleted.status == 204
    assert [i["title"] for i in api.get("/v1/watchlists", token=token).json()["items"]] == ["Keep"]
    assert api.delete(f"/v1/admin/users/{user['id']}/items/{item['id']}", token=admin_token).status == 404


def test_ensure_admin_promotes_an_existing_account_and_keeps_its_password(api: Api) -> None:
    user = api.register()
    promoted, created = get_services().auth.ensure_admin(user["email"], "a different password")
    assert (promoted.role, created) == ("admin", False)
    assert api.post("/v1/auth/login", json={"email": user["email"], "password": "a different password"}).status == 401
    assert api.login(user["email"])["access_token"]
    _, created_again = get_services().auth.ensure_admin(user["email"], "whatever")
    assert created_again is False


def test_a_deactivated_accounts_tokens_stop_at_once_and_its_sign_in_fails_as_a_wrong_password(
    api: Api, admin_token: str
) -> None:
    user = api.register()
    sessions = [api.login(user["email"]) for _ in range(2)]
    deactivate = api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"active": False})
    assert (deactivate.status, deactivate.json()["active"]) == (200, False)
    for tokens in sessions:
        assert api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
        assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401
    refused = api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    wrong = api.post("/v1/auth/login", json={"email": user["email"], "password": "not the password"})
    assert (
        (refused.status, refused.json()["detail"])
        == (wrong.status, wrong.json()["detail"])
        == (401, wrong.json()["detail"])
    )
    reactivate = api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"active": True})
    assert (reactivate.status, reactivate.json()["active"]) == (200, True)
    assert api.get("/v1/auth/me", token=api.login(user["email"])["access_token"]).status == 200
    assert api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"active": "false"}).status == 422


def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(api: Api, admin_token: str) -> None:
    me = api.get("/v1/auth/me", token=admin_token).json()
    other = api.register()
    promote = {"role": "admin"}
    assert api.patch(f"/v1/admin/users/{other['id']}", token=admin_token, json=promote).status == 200
    # Every other active admin made inactive, this one's colleague last: then neither may go.
    deactivate_other_admins(api, admin_token, keep={me["id"], other["id"]})
    assert api.patch(f"/v1/admin/users/{other['id']}", token=admin_token, json={"active": False}).status == 200
    for last_admin_goes in ({"active": False}, {"role": "user"}):
        assert api.patch(f"/v1/admin/users/{me['id']}", token=admin_token, json=last_admin_goes).status == 409
    # A deactivated admin's role may change without touching the tally of active admins.
    assert api.patch(f"/v1/admin/users/{other['id']}", token=admin_token, json={"role": "user"}).status == 200
    assert api.patch(f"/v1/admin/users/{me['id']}", token=admin_token, json={"active": False}).status == 409


def test_an_admin_deletes_an_account_whose_tokens_stop_at_once_and_whose_data_is_gone(
    api: Api, admin_token: str, poller: QueuePoller
) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    api.post("/v1/watchlists/items", token=tokens["access_token"], json={"title": "Heat", "type": "movie"})
    watchlist = f"/v1/admin/users/{user['id']}/watchlist"
    assert len(api.get(watchlist, token=admin_token).json()["items"]) == 1  # now in the response cache

    assert api.delete(f"/v1/admin/users/{user['id']}", token=admin_token).status == 204
    assert api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
    assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401
    assert api.get(watchlist, token=admin_token).status == 404
    assert list(ItemRecord.query(user["id"], consistent_read=True)) == []
    assert api.delete(f"/v1/admin/users/{user['id']}", token=admin_token).status == 404
    assert api.register(user["email"])["id"] != user["id"]

    poller.drain()
    admin_id = api.get("/v1/auth/me", token=admin_token).json()["id"]
    deleted = api.get("/v1/admin/audit", token=admin_token, query={"actor_id": admin_id, "action": "account.deleted"})
    assert [event["target"]["id"] for event in deleted.json()["items"]] == [user["id"]]


def test_the_last_active_admin_can_never_be_deleted(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not by themselves, through either path, and not by another admin deleting them while they delete that one:
    the check before anything is deleted answers the first; the account's transaction, on the admin tally, the race.
    """
    me = api.get("/v1/auth/me", token=admin_token).json()
    other = api.register()
    assert api.patch(f"/v1/admin/users/{other['id']}", token=admin_token, json={"role": "admin"}).status == 200
    deactivate_other_admins(api, admin_token, keep={me["id"], other["id"]})

    real_check = UserStore.is_last_admin

    def deleted_meanwhile(store: UserStore, user: User) -> bool:
        """The check passes while both are admins; then `other` deletes this test's admin before the transaction."""
        passed = real_check(store, user)
        if user.id == other["id"]:
            get_services().accounts.delete(other["id"], User.model_validate(me))
        return passed

    with monkeypatch.context() as patch:
        patch.setattr(UserStore, "is_last_admin", deleted_meanwhile)
        assert api.delete(f"/v1/admin/users/{other['id']}", token=admin_token).status == 409
    assert api.get("/v1/auth/me", token=admin_token).status == 401  # deleted by the other

    # The other, an admin still, is the last active one now: 409, and nothing of theirs ended.
    other_token = api.login(other["email"])["access_token"]  # their sessions ended before the refusal
    assert api.delete("/v1/auth/me", token=other_token, json={"current_password": PASSWORD}).status == 409
    assert api.delete(f"/v1/admin/users/{other['id']}", token=other_token).status == 409
    assert api.get("/v1/auth/me", token=other_token).json()["role"] == "admin"
