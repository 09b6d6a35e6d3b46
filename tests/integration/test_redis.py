"""Rate limits, the response cache and token revocation on a real Redis server."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from tests.support import PASSWORD, Api, ApiResponse, past_the_refresh_grace, unique_email
from watchlist_core import wiring
from watchlist_core.state import keys
from watchlist_core.wiring import get_services

RATE_LIMIT = re.compile(r'^"(?P<name>[a-z_]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


DAY_SECONDS = 86400


def _limit_headers(response: ApiResponse) -> dict[str, Any]:
    match = RATE_LIMIT.match(response.header("ratelimit") or "")
    assert match, response.headers
    assert response.header("x-ratelimit-remaining") == match["r"]
    assert response.header("x-ratelimit-reset") == match["t"]
    return {"policy": response.header("ratelimit-policy"), "remaining": int(match["r"]), "reset": int(match["t"])}


def test_authenticated_responses_carry_the_user_policy_and_count_down(redis_api: Api) -> None:
    _, token = redis_api.new_user()
    first = _limit_headers(redis_api.get("/v1/watchlists", token=token))
    second = redis_api.get("/v1/watchlists/items/01ARZ3NDEKTSV4RRFFQ69G5FAV", token=token)
    assert second.status == 404
    assert first["policy"] == '"user";q=100;w=60'
    assert _limit_headers(second)["remaining"] == first["remaining"] - 1
    assert 0 < first["reset"] <= 60
    assert second.header("x-ratelimit-limit") == "100"


def test_anonymous_endpoints_are_limited_per_client_ip_and_health_never(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_ANONYMOUS", "3/60")
    wiring.reset()
    statuses = [redis_api.get("/v1/health/detailed").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other_client = Api(redis_api.handler, source_ip="198.51.100.99")
    assert other_client.get("/v1/health/detailed").status == 200
    # A client-supplied forwarding header does not change who the client is.
    spoofed = redis_api.get("/v1/health/detailed", headers={"X-Forwarded-For": "192.0.2.1"})
    assert spoofed.status == 429
    for _ in range(5):
        health = redis_api.get("/health")
        assert health.status == 200
        assert health.header("ratelimit") is None


def test_a_refused_request_gets_429_with_retry_after_and_a_problem(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_USER", "2/60")
    wiring.reset()
    _, token = redis_api.new_user()
    assert [redis_api.get("/v1/auth/me", token=token).status for _ in range(2)] == [200, 200]
    refused = redis_api.get("/v1/auth/me", token=token)
    assert refused.status == 429
    assert refused.header("content-type") == "application/problem+json"
    assert refused.json()["status"] == 429
    assert 1 <= int(refused.header("retry-after") or 0) <= 60
    assert _limit_headers(refused)["remaining"] == 0
    # Refused requests do not use up quota: still exactly the same answer, not a longer lockout.
    assert redis_api.get("/v1/auth/me", token=token).status == 429


def test_writes_count_against_a_daily_quota_that_reads_do_not_use(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_WRITES", f"2/{DAY_SECONDS}")
    wiring.reset()
    _, token = redis_api.new_user()
    created = [
        redis_api.post("/v1/watchlists/items", token=token, json={"title": f"T{n}", "type": "movie"}) for n in range(2)
    ]
    assert [response.status for response in created] == [201, 201]
    assert created[0].header("ratelimit-policy") == '"user";q=100;w=60'  # the tighter policy, while none refuses
    refused = redis_api.patch(f"/v1/watchlists/items/{created[0].json()['id']}", token=token, json={"rating": 3})
    assert refused.status == 429
    assert refused.header("ratelimit-policy") == f'"writes";q=2;w={DAY_SECONDS}'
    # Until the daily window's end: fixed windows, on the UTC day (an hour before midnight, an hour's wait).
    until_midnight = DAY_SECONDS - int(time.time()) % DAY_SECONDS
    assert until_midnight - 5 <= int(refused.header("retry-after") or 0) <= until_midnight + 1
    listed = redis_api.get("/v1/watchlists", token=token)
    assert (listed.status, listed.json()["total"]) == (200, 2)
    # The refused write used up no quota of its per-minute policy either.
    assert _limit_headers(listed)["remaining"] == _limit_headers(created[1])["remaining"] - 1


def test_one_address_opens_a_bounded_number_of_accounts(redis_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_REGISTER", "2/3600")
    wiring.reset()
    statuses = [
        redis_api.post("/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}).status
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    elsewhere = Api(redis_api.handler, source_ip="198.51.100.5")
    assert elsewhere.post("/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}).status == 201


def test_refresh_is_limited_per_session_not_per_address(redis_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_REFRESH", "2/60")
    wiring.reset()
    # Many users behind one address (a carrier's NAT): more refreshes from it than one session's limit.
    sessions = [redis_api.login(redis_api.register()["email"])["refresh_token"] for _ in range(3)]
    for refresh_token in sessions:
        refreshed = redis_api.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status == 200
        assert refreshed.header("ratelimit-policy") == '"refresh";q=2;w=60'
        again = redis_api.post("/v1/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
        assert again.status == 200
    looping = redis_api.post("/v1/auth/refresh", json={"refresh_token": again.json()["refresh_token"]})
    assert looping.status == 429
    assert looping.header("ratelimit-policy") == '"refresh";q=2;w=60'
    # A token that is no token is refused before anything is counted or read.
    assert redis_api.post("/v1/auth/refresh", json={"refresh_token": "garbage"}).status == 401


def test_five_wrong_passwords_lock_that_address_out_of_that_account_and_nothing_else(redis_api: Api) -> None:
    user = redis_api.register()
    stranger = Api(redis_api.handler, source_ip="198.51.100.66")
    for _ in range(5):
        assert stranger.post("/v1/auth/login", json={"email": user["email"], "password": "wrong guess"}).status == 401
    locked = stranger.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert locked.status == 429  # even the right password: no answer about it at all
    assert locked.header("ratelimit-policy") == '"login_failures";q=5;w=900'
    assert 800 < int(locked.header("retry-after") or 0) <= 900
    # The owner, from their own address, is not locked out; the stranger's other accounts are not either.
    assert redis_api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 200
    other = redis_api.register()
    assert stranger.post("/v1/auth/login", json={"email": other["email"], "password": PASSWORD}).status == 200


def test_each_further_lockout_of_an_address_lasts_twice_as_long(
    redis_api: Api, redis_server: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "100/60")  # the per-address request limit is not under test
    wiring.reset()
    user = redis_api.register()
    guesses = {"email": user["email"], "password": "wrong guess"}
    retry_after = []
    for _ in range(2):
        for _ in range(5):
            assert redis_api.post("/v1/auth/login", json=guesses).status == 401
        retry_after.append(int(redis_api.post("/v1/auth/login", json=guesses).header("retry-after") or 0))
        client = redis_server.client()
        client.delete(*client.scan_iter(match="wl:{login:*}:lock:*"))  # the lock's time is up
    assert 800 < retry_after[0] <= 900
    assert 1700 < retry_after[1] <= 1800


def test_a_distributed_guesser_holds_back_new_devices_but_never_the_owners_device_token(redis_api: Api) -> None:
    """The attack: 5 wrong passwords from each of 10 addresses (the default account-wide ceiling, 50), then the right
    one from yet another address (a phone on a mobile network). Without its device token it waits out the window
    (or uses the e-mailed reset); with it, it signs in."""
    user = redis_api.register()
    device_token = redis_api.login(user["email"])["device_token"]
    for number in range(10):
        guesser = Api(redis_api.handler, source_ip=f"198.51.100.{number + 1}")
        for _ in range(5):
            assert guesser.post("/v1/auth/login", json={"email": user["email"], "password": "guess"}).status == 401
    phone = Api(redis_api.handler, source_ip="192.0.2.200")
    refused = phone.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert refused.status == 429
    assert refused.header("ratelimit-policy") == '"login_account_failures";q=50;w=900'
    trusted = {"email": user["email"], "password": PASSWORD, "device_token": device_token}
    signed_in = phone.post("/v1/auth/login", json=trusted)
    assert signed_in.status == 200
    assert signed_in.json()["device_token"] not in {None, device_token}  # a new one with every sign-in
    # The owner's own client without its device token is one more untrusted client.
    assert redis_api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 429


def test_a_device_token_is_bound_to_its_account_and_locked_out_by_its_own_failures(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOGIN_ACCOUNT_FAILURES", "6/900")
    wiring.reset()
    owner, other = redis_api.register(), redis_api.register()
    device_token = redis_api.login(owner["email"])["device_token"]
    for number in range(3):  # the account's ceiling reached by strangers
        guesser = Api(redis_api.handler, source_ip=f"198.51.100.{number + 20}")
        for _ in range(2):
            assert guesser.post("/v1/auth/login", json={"email": owner["email"], "password": "guess"}).status == 401
    # Another account's device token, or a forged one, is no device token of this account.
    foreign = redis_api.login(other["email"])["device_token"]
    for token in (foreign, device_token[:-4] + "AAAA"):
        answer = redis_api.post(
            "/v1/auth/login", json={"email": owner["email"], "password": PASSWORD, "device_token": token}
        )
        assert answer.status == 429
    # A stolen device token gets its holder five guesses, then it is as untrusted as no token at all.
    thief = Api(redis_api.handler, source_ip="192.0.2.99")
    guesses = {"email": owner["email"], "password": "guess", "device_token": device_token}
    assert [thief.post("/v1/auth/login", json=guesses).status for _ in range(5)] == [401] * 5
    assert thief.post("/v1/auth/login", json=guesses | {"password": PASSWORD}).status == 429


def test_a_successful_login_clears_the_failure_count(redis_api: Api) -> None:
    user = redis_api.register()
    for _ in range(4):
        redis_api.post("/v1/auth/login", json={"email": user["email"], "password": "wrong guess"})
    redis_api.login(user["email"])
    for _ in range(4):
        redis_api.post("/v1/auth/login", json={"email": user["email"], "password": "wrong guess"})
    assert redis_api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 200


def test_unknown_accounts_lock_too_so_the_lock_reveals_nothing(redis_api: Api) -> None:
    email = unique_email()
    answers = [redis_api.post("/v1/auth/login", json={"email": email, "password": "guess"}).status for _ in range(6)]
    assert answers == [401] * 5 + [429]


def test_reads_are_cached_per_user_and_a_hit_can_be_a_304(redis_api: Api) -> None:
    _, token = redis_api.new_user()
    redis_api.post("/v1/watchlists/items", token=token, json={"title": "Heat", "type": "movie"})
    miss = redis_api.get("/v1/watchlists", token=token)
    hit = redis_api.get("/v1/watchlists", token=token)
    assert (miss.header("x-cache"), hit.header("x-cache")) == ("MISS", "HIT")
    assert hit.body == miss.body
    assert hit.header("etag") == miss.header("etag")
    not_modified = redis_api.get("/v1/watchlists", token=token, headers={"If-None-Match": miss.header("etag") or ""})
    assert (not_modified.status, not_modified.header("x-cache")) == (304, "HIT")
    for path in ("/v1/auth/me",):
        assert [redis_api.get(path, token=token).header("x-cache") for _ in range(2)] == ["MISS", "HIT"]


def test_no_request_is_answered_from_another_users_entry(redis_api: Api) -> None:
    _, alice = redis_api.new_user()
    _, bob = redis_api.new_user()
    redis_api.post("/v1/watchlists/items", token=alice, json={"title": "Alice's film", "type": "movie"})
    assert redis_api.get("/v1/watchlists", token=alice).json()["total"] == 1
    assert redis_api.get("/v1/watchlists", token=alice).header("x-cache") == "HIT"
    bobs = redis_api.get("/v1/watchlists", token=bob)
    assert (bobs.header("x-cache"), bobs.json()["total"]) == ("MISS", 0)
    me = redis_api.get("/v1/auth/me", token=bob).json()
    assert redis_api.get("/v1/auth/me", token=bob).json() == me
    assert redis_api.get("/v1/auth/me", token=alice).json()["id"] != me["id"]


def test_every_write_makes_the_next_read_fresh(redis_api: Api) -> None:
    _, token = redis_api.new_user()
    item = redis_api.post("/v1/watchlists/items", token=token, json={"title": "Old", "type": "movie"}).json()
    path = f"/v1/watchlists/items/{item['id']}"
    for _ in range(2):
        redis_api.get(path, token=token)
        redis_api.get("/v1/watchlists", token=token, query={"sort": "title"})
    redis_api.patch(path, token=token, json={"title": "New"})
    fresh_item = redis_api.get(path, token=token)
    fresh_list = redis_api.get("/v1/watchlists", token=token, query={"sort": "title"})
    assert (fresh_item.header("x-cache"), fresh_item.json()["title"]) == ("MISS", "New")
    assert [i["title"] for i in fresh_list.json()["items"]] == ["New"]
    redis_api.delete(path, token=token)
    assert redis_api.get("/v1/watchlists", token=token, query={"sort": "title"}).json()["items"] == []


def test_an_admins_write_invalidates_the_owners_cache(redis_api: Api) -> None:
    user, token = redis_api.new_user()
    item = redis_api.post("/v1/watchlists/items", token=token, json={"title": "Spam", "type": "show"}).json()
    admin_email = unique_email()
    get_services().auth.ensure_admin(admin_email, PASSWORD)
    admin = redis_api.login(admin_email)["access_token"]
    redis_api.get("/v1/auth/me", token=token)
    redis_api.get("/v1/watchlists", token=token)
    assert redis_api.get("/v1/watchlists", token=token).header("x-cache") == "HIT"
    admin_view = f"/v1/admin/users/{user['id']}/watchlist"
    assert [redis_api.get(admin_view, token=admin).header("x-cache") for _ in range(2)] == ["MISS", "HIT"]

    redis_api.delete(f"/v1/admin/users/{user['id']}/items/{item['id']}", token=admin)
    after = redis_api.get("/v1/watchlists", token=token)
    assert (after.header("x-cache"), after.json()["items"]) == ("MISS", [])
    assert redis_api.get(admin_view, token=admin).json()["items"] == []
    redis_api.patch(f"/v1/admin/users/{user['id']}", token=admin, json={"role": "admin"})
    assert redis_api.get("/v1/auth/me", token=token).json()["role"] == "admin"


def test_logout_ends_the_session_in_redis_for_as_long_as_its_access_tokens_live(
    redis_api: Api, redis_server: RedisServer | LocalRedisCluster
) -> None:
    user = redis_api.register()
    tokens = redis_api.login(user["email"])
    session_id = get_services().auth.authenticate(tokens["access_token"]).session_id
    assert redis_api.post("/v1/auth/logout", token=tokens["access_token"]).status == 204
    assert redis_api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
    ttl = redis_server.client().ttl(keys.session_ended(user["id"], session_id))
    assert 890 < ttl <= 901  # an access token issued just before the logout lives 900 s more, no longer


def test_a_logout_ends_every_access_token_of_the_session_the_newer_ones_too(redis_api: Api) -> None:
    user = redis_api.register()
    tokens = redis_api.login(user["email"])
    # A refresh a moment earlier, on another device or in an attacker's hands: a newer access token of the session.
    newer = redis_api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    assert redis_api.get("/v1/auth/me", token=newer["access_token"]).status == 200
    assert redis_api.post("/v1/auth/logout", token=tokens["access_token"]).status == 204
    assert redis_api.get("/v1/auth/me", token=newer["access_token"]).status == 401
    assert redis_api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
    assert redis_api.post("/v1/auth/refresh", json={"refresh_token": newer["refresh_token"]}).status == 401
    # Another session of the same user is not touched.
    other = redis_api.login(user["email"])
    assert redis_api.get("/v1/auth/me", token=other["access_token"]).status == 200


def test_a_logout_given_another_of_the_callers_refresh_tokens_ends_that_session_too(redis_api: Api) -> None:
    user = redis_api.register()
    first, second = redis_api.login(user["email"]), redis_api.login(user["email"])
    body = {"refresh_token": second["refresh_token"]}
    assert redis_api.post("/v1/auth/logout", token=first["access_token"], json=body).status == 204
    for access_token in (first["access_token"], second["access_token"]):
        assert redis_api.get("/v1/auth/me", token=access_token).status == 401
    assert redis_api.post("/v1/auth/refresh", json=body).status == 401
    # A refresh token that is no token at all ends nothing more, and the logout still succeeds.
    third = redis_api.login(user["email"])
    garbage = {"refresh_token": "not-a-token"}
    assert redis_api.post("/v1/auth/logout", token=third["access_token"], json=garbage).status == 204
    assert redis_api.get("/v1/auth/me", token=third["access_token"]).status == 401


def test_a_reused_refresh_token_ends_the_sessions_earlier_access_tokens(
    redis_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = redis_api.register()
    first = redis_api.login(user["email"])
    second = redis_api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert redis_api.get("/v1/auth/me", token=first["access_token"]).status == 200
    # The rotated token comes back later (a thief's copy): the whole session ends, every access token of it.
    with past_the_refresh_grace(monkeypatch):
        assert redis_api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status == 401
    for access_token in (first["access_token"], second["access_token"]):
        assert redis_api.get("/v1/auth/me", token=access_token).status == 401
    assert redis_api.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status == 401


def test_a_cache_version_gone_from_redis_never_brings_an_old_entry_back(
    redis_api: Api, redis_server: RedisServer | LocalRedisCluster
) -> None:
    client = redis_server.client()
    user, token = redis_api.new_user()
    assert redis_api.get("/v1/watchlists", token=token).json()["items"] == []  # cached: an empty page
    assert redis_api.post("/v1/watchlists/items", token=token, json={"title": "Dune", "type": "movie"}).status == 201
    for _ in range(3):  # the version expires, is evicted, or Redis forgets it: a new one, never an old one
        listed = redis_api.get("/v1/watchlists", token=token)
        assert [item["title"] for item in listed.json()["items"]] == ["Dune"], listed.header("x-cache")
        version_key = keys.cache_version(user["id"])
        assert 0 < client.ttl(version_key) <= 3600  # the version key expires, kept alive by requests
        client.delete(version_key)
