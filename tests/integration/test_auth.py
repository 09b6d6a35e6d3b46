"""Auth endpoints through the Lambda handler against the moto server."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from infra.aws.calls import tally_aws_calls
from tests.support import PASSWORD, TEST_SIGNING_KEY, Api, past_the_refresh_grace, unique_email
from watchlist_core import wiring
from watchlist_core.wiring import get_services


def _assert_unauthenticated(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status == 401, response.body
    assert response.header(
        "www-authenticate",
    ).startswith("Bearer")
    assert response.header("content-type") == "application/problem+json"
    assert response.json()["request_id"] == response.header("x-request-id")


def test_register_returns_the_user_with_a_lowercased_email(any_api: Api) -> None:
    email = unique_email().upper()
    response = any_api.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ann"})
    assert response.status == 201
    user = response.json()
    assert user["email"] == email.lower()
    assert user["role"] == "user"
    assert user["display_name"] == "Ann"
    assert set(user) == {"id", "email", "display_name", "role", "created_at", "active", "email_verified"}
    assert user["email_verified"] is False
    assert user["created_at"].endswith("Z")


def test_register_refuses_a_duplicate_email_in_any_case(api: Api) -> None:
    email = unique_email()
    api.register(email)
    response = api.post("/v1/auth/register", json={"email": email.upper(), "password": PASSWORD})
    assert response.status == 409
    assert response.json()["status"] == 409


def test_concurrent_registrations_of_one_email_give_one_201_and_the_rest_409(handler) -> None:  # type: ignore[no-untyped-def]
    from watchlist_api.handler import asgi_handler

    email = unique_email()

    async def register_many() -> list[int]:
        transport = httpx.ASGITransport(app=asgi_handler.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *[client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}) for _ in range(4)]
            )
        return sorted(r.status_code for r in responses)

    assert asyncio.run(register_many()) == [201, 409, 409, 409]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.com", "password": PASSWORD, "role": "admin"},
        {"email": "x@example.com", "password": "short"},
        {"email": "x@example.com", "password": "p" * 129},
        {"email": "not-an-email", "password": PASSWORD},
        {"password": PASSWORD},
    ],
    ids=["role-in-body", "password-too-short", "password-too-long", "bad-email", "missing-email"],
)
def test_register_rejects_invalid_bodies_with_422(api: Api, body: dict[str, str]) -> None:
    response = api.post("/v1/auth/register", json=body)
    assert response.status == 422
    problem = response.json()
    assert problem["errors"]
    assert all(set(error) == {"loc", "msg", "type"} for error in problem["errors"])
    assert PASSWORD not in response.body.decode()


def test_login_with_json_and_with_the_oauth2_form(api: Api) -> None:
    user = api.register()
    tokens = api.login(user["email"].upper())
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 800
    password = PASSWORD.replace(" ", "+")
    # The token path is the form's (Swagger's Authorize button); login still takes it for earlier clients.
    for path, form in (
        ("/v1/auth/token", f"grant_type=password&username={user['email']}&password={password}"),
        ("/v1/auth/login", f"username={user['email']}&password={password}"),
    ):
        answer = api.post(path, body=form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status == 200, (path, answer.body)
        assert answer.header("cache-control") == "no-store"
        me = api.get("/v1/auth/me", token=answer.json()["access_token"])
        assert me.json()["id"] == user["id"]
    _assert_unauthenticated(api.post("/v1/auth/login", json={"email": user["email"], "password": "wrong"}))


def test_unknown_email_and_wrong_password_give_the_same_401_and_the_same_hashing_work(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal time by construction: both paths verify one argon2id hash of the same cost (no timed assertion)."""
    user = api.register()
    context = get_services().auth._passwords._context
    verified: list[str] = []
    for method in ("verify", "verify_and_update"):
        original = getattr(context, method)

        def spy(password: str, stored: str, _original: Any = original) -> Any:
            verified.append(stored.rsplit("$", 2)[0])  # the scheme and cost parameters, without salt and digest
            return _original(password, stored)

        monkeypatch.setattr(context, method, spy)

    def attempt(email: str) -> dict[str, object]:
        response = api.post("/v1/auth/login", json={"email": email, "password": "wrong password"})
        _assert_unauthenticated(response)
        return {k: response.json()[k] for k in ("type", "title", "detail")}

    unknown_body = attempt(unique_email())
    wrong_body = attempt(user["email"])
    assert unknown_body == wrong_body
    assert len(verified) == 2
    assert verified[0] == verified[1]
    assert verified[0].startswith("$argon2id$v=19$m=19456,t=2,p=1")


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ("grant_type=password&username={email}&password=wrong", "invalid_grant"),
        ("grant_type=password&username={unknown}&password=wrong", "invalid_grant"),
        ("grant_type=client_credentials&username={email}&password={password}", "unsupported_grant_type"),
        ("username={email}&password={password}", "invalid_request"),
        ("grant_type=password&username={email}", "invalid_request"),
        ("grant_type=password&username=bob@example.com&username={email}&password={password}", "invalid_request"),
        ("grant_type=client_credentials&grant_type=password&username={email}&password={password}", "invalid_request"),
    ],
    ids=["wrong-password", "unknown-user", "other-grant", "no-grant", "no-password", "two-usernames", "two-grants"],
)
def test_the_token_endpoint_refuses_as_rfc_6749_says(api: Api, form: str, error: str) -> None:
    """RFC 6749 (5.2): 400 with `error`, which OAuth2 clients read, beside the problem's fields; a field sent twice
    has no one value, so it is refused, never read as its last one."""
    user = api.register()
    values = {"email": user["email"], "unknown": unique_email(), "password": PASSWORD.replace(" ", "+")}
    response = api.post("/v1/auth/token", body=form.format(**values).encode(), headers=FORM)
    assert response.status == 400
    assert response.header("content-type") == "application/problem+json"
    assert response.header("cache-control") == "no-store"
    problem = response.json()
    assert (problem["error"], problem["status"]) == (error, 400)
    assert PASSWORD not in response.body.decode()


def test_the_token_endpoint_takes_only_its_form(api: Api) -> None:
    user = api.register()
    response = api.post("/v1/auth/token", json={"email": user["email"], "password": PASSWORD})
    assert (response.status, response.json()["error"]) == (400, "invalid_request")


def test_a_login_form_field_sent_twice_is_400(api: Api) -> None:
    user = api.register()
    form = f"username=bob@example.com&username={user['email']}&password={PASSWORD}"
    response = api.post("/v1/auth/login", body=form.encode(), headers=FORM)
    assert response.status == 400
    assert response.json()["type"].endswith("repeated-field")


def test_known_and_unknown_addresses_cost_the_same_reads(api: Api) -> None:
    """What timing could tell apart: a known address's sign-in read its claim and its account; an unknown one's
    reads the same number of items (bench/login_timing.py measures the time)."""
    user = api.register()
    reads = []
    for email in (user["email"], unique_email()):
        with tally_aws_calls("dynamodb") as calls:
            assert api.post("/v1/auth/login", json={"email": email, "password": "wrong guess"}).status == 401
        reads.append(calls.operations)
    assert reads[0] == reads[1]
    assert reads[0]["GetItem"] == 2


def test_login_form_without_password_is_422(api: Api) -> None:
    response = api.post(
        "/v1/auth/login", body=b"username=a@example.com", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 422
    assert response.json()["errors"][0]["loc"] == ["body", "password"]


def test_refresh_rotates_and_reuse_revokes_the_whole_family(any_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    user = any_api.register()
    first = any_api.login(user["email"])
    second = any_api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert any_api.get("/v1/auth/me", token=rotated["access_token"]).status == 200

    with past_the_refresh_grace(monkeypatch):
        reused = any_api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    _assert_unauthenticated(reused)
    # The reuse revoked the family: the legitimately rotated token is dead too.
    _assert_unauthenticated(any_api.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}))


def test_a_refresh_retried_within_the_grace_period_gets_the_same_pair_and_the_session_lives(api: Api) -> None:
    user = api.register()
    first = api.login(user["email"])
    answered = api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    retried = api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})  # its answer was lost
    assert answered.status == retried.status == 200
    pair = answered.json()
    assert {k: v for k, v in retried.json().items() if k != "expires_in"} == {
        k: v for k, v in pair.items() if k != "expires_in"
    }
    assert api.get("/v1/auth/me", token=pair["access_token"]).status == 200
    next_pair = api.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert next_pair.status == 200  # the family is alive
    # The grace covers the token just replaced only: the first one is two rotations old now.
    _assert_unauthenticated(api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}))


def test_concurrent_refreshes_of_one_token_all_get_one_pair_and_the_family_lives(api: Api) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    auth = get_services().auth
    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = list(pool.map(lambda _: auth.refresh(auth.refresh_claims(tokens["refresh_token"])), range(8)))
    assert len({(pair.access_token, pair.refresh_token) for pair in pairs}) == 1
    assert api.post("/v1/auth/refresh", json={"refresh_token": pairs[0].refresh_token}).status == 200


def test_with_no_grace_period_a_retried_refresh_ends_the_session(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRESH_REUSE_GRACE_SECONDS", "0")
    wiring.reset()
    user = api.register()
    first = api.login(user["email"])
    rotated = api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    _assert_unauthenticated(api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    _assert_unauthenticated(api.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}))


def test_an_access_token_is_not_a_refresh_token(api: Api) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    _assert_unauthenticated(api.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}))
    _assert_unauthenticated(api.get("/v1/auth/me", token=tokens["refresh_token"]))


def test_logout_revokes_the_access_token_at_once_and_the_refresh_token(api: Api) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    response = api.post(
        "/v1/auth/logout", token=tokens["access_token"], json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status == 204
    _assert_unauthenticated(api.get("/v1/auth/me", token=tokens["access_token"]))
    _assert_unauthenticated(api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))


def test_logout_cannot_revoke_another_users_session(api: Api) -> None:
    victim = api.register()
    victim_tokens = api.login(victim["email"])
    _, attacker_token = api.new_user()
    response = api.post("/v1/auth/logout", token=attacker_token, json={"refresh_token": victim_tokens["refresh_token"]})
    assert response.status == 204
    assert api.post("/v1/auth/refresh", json={"refresh_token": victim_tokens["refresh_token"]}).status == 200


def test_me_has_an_etag_and_answers_304_to_if_none_match(api: Api) -> None:
    _, token = api.new_user()
    first = api.get("/v1/auth/me", token=token)
    assert first.status == 200
    assert first.header("cache-control") == "private, no-cache"
    etag = first.header("etag")
    assert etag
    again = api.get("/v1/auth/me", token=token, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.header("etag") == etag


def _forged(claims: dict[str, object], key: str = TEST_SIGNING_KEY, algorithm: str = "HS256") -> str:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "iss": "watchlist-api",
        "aud": "watchlist-api",
        "sub": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "abc",
        "typ": "access",
        "role": "admin",
    }
    return jwt.encode(base | claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        _forged({"exp": datetime.now(UTC) - timedelta(seconds=5)}),
        _forged({}, key="another secret that is long enough for hs256"),
        # The constant every local stack signed with before each got its own key: public, since it was in the code.
        _forged({"sid": "never-issued"}, key="local-development-secret-never-use-it-outside-local"),
        _forged({"aud": "someone-else"}),
        _forged({"iss": "someone-else"}),
        _forged({"typ": "refresh"}),
        jwt.encode({"sub": "x", "typ": "access"}, TEST_SIGNING_KEY, algorithm="HS256"),
        "not-a-jwt",
    ],
    ids=[
        "expired",
        "wrong-key",
        "former-public-key",
        "wrong-audience",
        "wrong-issuer",
        "wrong-type",
        "missing-claims",
        "garbage",
    ],
)
def test_bad_tokens_get_401_with_www_authenticate(api: Api, token: str) -> None:
    _assert_unauthenticated(api.get("/v1/watchlists", token=token))


def test_alg_none_and_tampered_tokens_are_refused(api: Api) -> None:
    user = api.register()
    real = api.login(user["email"])["access_token"]
    header, payload, signature = real.split(".")
    unsigned = jwt.encode({"sub": user["id"], "typ": "access"}, key="", algorithm="none")
    _assert_unauthenticated(api.get("/v1/watchlists", token=unsigned))
    tampered_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    _assert_unauthenticated(api.get("/v1/watchlists", token=f"{header}.{tampered_payload}.{signature}"))


def test_missing_or_malformed_authorization_header_is_401(api: Api) -> None:
    _assert_unauthenticated(api.get("/v1/watchlists"))
    _assert_unauthenticated(api.get("/v1/watchlists", headers={"Authorization": "Basic dXNlcjpwYXNz"}))
    _assert_unauthenticated(api.get("/v1/auth/me", headers={"Authorization": "Bearer"}))


def test_the_challenge_names_an_invalid_token_only_when_a_bearer_token_was_sent(api: Api) -> None:
    # RFC 6750 section 3.1: a request with no credentials (or only another scheme's) gets no error code.
    assert api.get("/v1/watchlists").header("www-authenticate") == "Bearer"
    basic = api.get("/v1/watchlists", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.header("www-authenticate") == "Bearer"
    invalid = 'Bearer error="invalid_token"'
    assert api.get("/v1/watchlists", token="not-a-jwt").header("www-authenticate") == invalid
    assert api.get("/v1/auth/me", headers={"Authorization": "Bearer"}).header("www-authenticate") == invalid
