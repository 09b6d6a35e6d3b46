"""What attackers and careless clients send: nothing of it may cause a 500, a stack trace per request, a wrong
cached answer, a redirect to another host or a key DynamoDB would refuse."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.aws.calls import intercepting_aws_calls
from tests.support import PASSWORD, Api, unique_email

# Deeper than json's parser goes on any Python (3.13's gives up near 20,000, 3.11's near 1,000), inside the body limit.
DEEP = "[" * 30000 + "]" * 30000
# Deep, but parsed on 3.13: then it is valid JSON of the wrong shape.
NESTED = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("body", [DEEP, '{"email": ' + DEEP + ', "password": "x"}'], ids=["array", "field"])
@pytest.mark.parametrize("path", ["/v1/auth/login", "/v1/auth/register", "/v1/auth/refresh"])
def test_json_nested_too_deep_is_a_400_problem_without_a_stack_trace(
    api: Api, log_lines: io.StringIO, path: str, body: str
) -> None:
    response = api.post(path, body=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert response.json()["type"].endswith("malformed-json")
    assert all(json.loads(line)["level"] != "ERROR" for line in log_lines.getvalue().splitlines())


def test_json_nested_deep_but_parsed_is_a_422_problem(api: Api, log_lines: io.StringIO) -> None:
    body = ('{"email": ' + NESTED + ', "password": "x"}').encode()
    response = api.post("/v1/auth/login", body=body, headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert all(json.loads(line)["level"] != "ERROR" for line in log_lines.getvalue().splitlines())


def test_a_repeated_query_parameter_is_refused_and_the_cache_keys_on_the_validated_query(api: Api) -> None:
    _, token = api.new_user()
    for order in (["show", "movie"], ["movie", "show"]):
        refused = api.get("/v1/watchlists", token=token, query={"type": order})
        assert refused.status == 422
        assert refused.json()["errors"][0]["loc"] == ["query", "type"]
    api.post("/v1/watchlists/items", token=token, json={"title": "Arrival", "type": "movie"})
    first = api.get("/v1/watchlists", token=token, query={"type": "movie"})
    same = api.get("/v1/watchlists", token=token, query={"sort": "-created_at", "limit": "20", "type": "movie"})
    other = api.get("/v1/watchlists", token=token, query={"type": "show"})
    assert (first.header("x-cache"), same.header("x-cache"), other.header("x-cache")) == ("MISS", "HIT", "MISS")
    assert [len(r.json()["items"]) for r in (first, same, other)] == [1, 1, 0]


def test_audit_since_outside_the_id_range_is_answered(api: Api, admin_token: str) -> None:
    for since in ("1969-12-31T23:59:59Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert api.get("/v1/admin/audit", token=admin_token, query={"since": since}).status == 200, since


def test_405_names_every_method_of_the_path_and_head_works_where_get_does(api: Api) -> None:
    _, token = api.new_user()
    item = api.post("/v1/watchlists/items", token=token, json={"title": "Arrival", "type": "movie"}).json()
    refused = api.request("PUT", f"/v1/watchlists/items/{item['id']}", token=token)
    assert refused.status == 405
    assert refused.header("content-type") == "application/problem+json"
    assert refused.header("allow") == "GET, PATCH, DELETE, HEAD"
    got = api.get(f"/v1/watchlists/items/{item['id']}", token=token)
    head = api.request("HEAD", f"/v1/watchlists/items/{item['id']}", token=token)
    assert (head.status, head.body, head.header("etag")) == (200, b"", got.header("etag"))


def test_no_redirect_is_built_from_the_clients_host(api: Api) -> None:
    _, token = api.new_user()
    response = api.get("/v1/auth/me/", token=token, headers={"Host": "evil.example"})
    assert response.status == 404
    assert response.header("location") is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/watchlists/items", {"title": "bad\u0000title", "type": "movie"}),
        ("/v1/watchlists/items", {"title": "Arrival", "type": "movie", "notes": "ring \u0007 bell"}),
        ("/v1/auth/register", {"email": "x@example.com", "password": "long password", "display_name": "a\u001bb"}),
        ("/v1/auth/register", {"email": "x@example.com", "password": "\u0000" * 8}),
        ("/v1/auth/register", {"email": "a\u0007b@example.com", "password": "long password"}),
    ],
)
def test_control_characters_are_refused_in_text_fields(api: Api, path: str, body: dict[str, str]) -> None:
    _, token = api.new_user()
    response = api.post(path, token=token, json=body)
    assert response.status == 422, response.body


def test_notes_keep_their_line_breaks(api: Api) -> None:
    _, token = api.new_user()
    notes = "first line\nsecond line\r\n\tindented"
    created = api.post("/v1/watchlists/items", token=token, json={"title": "A", "type": "show", "notes": notes})
    assert (created.status, created.json()["notes"]) == (201, notes)


def test_a_value_dynamodb_refuses_is_a_422_problem_without_dynamodbs_message(api: Api, log_lines: io.StringIO) -> None:
    """DynamoDB answers a key over its size limit with a ValidationException (moto does not check every one): the
    client's input, so 422, never 500; DynamoDB's message, naming our attributes, only in the log."""
    _, token = api.new_user()
    message = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the limit"

    def refuse(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        if operation == "Query":
            raise ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)
        return send()

    with intercepting_aws_calls(refuse):
        response = api.get("/v1/watchlists", token=token, query={"sort": "title"})
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"]
    assert "range keys" not in response.body.decode()
    logged = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    refused = [line for line in logged if line.get("aws_error_code") == "ValidationException"]
    assert refused
    assert refused[0]["aws_error_message"] == message
    assert "Traceback" not in log_lines.getvalue()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"title": "Heat", "type": "movie", "rating": True}, ["body", "rating"]),
        ({"title": "Heat", "type": "movie", "year": "1995"}, ["body", "year"]),
        ({"title": 1995, "type": "movie"}, ["body", "title"]),
    ],
    ids=["true-for-a-number", "a-string-for-a-year", "a-number-for-a-title"],
)
def test_a_value_of_the_wrong_json_type_is_refused_never_coerced(
    api: Api, body: dict[str, Any], loc: list[str]
) -> None:
    _, token = api.new_user()
    response = api.post("/v1/watchlists/items", token=token, json=body)
    assert response.status == 422, response.body
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
    changed = api.post("/v1/watchlists/items", token=token, json={"title": "Heat", "type": "movie"}).json()
    patched = api.patch(f"/v1/watchlists/items/{changed['id']}", token=token, json={"rating": True})
    assert patched.status == 422
    assert api.get(f"/v1/watchlists/items/{changed['id']}", token=token).json()["rating"] is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/watchlists/items", b'{"title": "Heat", "type": "movie", "title": "Ronin"}'),
        ("/v1/auth/login", b'{"email": "a@example.com", "password": "x", "email": "b@example.com"}'),
        ("/v1/auth/register", b'{"email": "a@example.com", "password": "long password", "email": "b@example.com"}'),
    ],
)
def test_a_key_given_twice_is_refused_not_read_as_its_last_value(api: Api, path: str, body: bytes) -> None:
    _, token = api.new_user()
    response = api.post(path, token=token, body=body, headers=JSON)
    assert response.status == 422, response.body
    errors = response.json()["errors"]
    assert [(error["type"], error["loc"][0]) for error in errors] == [("duplicate_key", "body")]


def test_lookalike_addresses_are_the_same_account_or_refused(api: Api) -> None:
    """NFKC and case folding make a full-width or upper-case twin the same address (409, and it signs in); a local
    part mixing scripts (a Cyrillic a among Latin letters) is refused; a password of spaces is no password."""
    local = unique_email().split("@")[0]
    api.register(f"{local}@example.com")
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in local)
    for twin in (f"{full_width}@example.com", f"{local.upper()}@EXAMPLE.COM"):
        response = api.post("/v1/auth/register", json={"email": twin, "password": "another password"})
        assert response.status == 409, (twin, response.body)
        assert api.post("/v1/auth/login", json={"email": twin, "password": PASSWORD}).status == 200
    cyrillic = "\u0430" + local[1:]
    refused = api.post("/v1/auth/register", json={"email": f"{cyrillic}@example.com", "password": "long password"})
    assert refused.status == 422
    assert "mixes scripts" in refused.json()["errors"][0]["msg"]
    spaces = api.post("/v1/auth/register", json={"email": unique_email(), "password": " " * 8})
    assert spaces.status == 422
    japanese = api.post(
        "/v1/auth/register", json={"email": f"\u5c71\u7530{local}@example.jp", "password": "long password"}
    )
    assert japanese.status == 201  # Han with Latin, as Japanese is written


@pytest.mark.parametrize("password", ["password1", "Iloveyou", "qwertyuiop"])
def test_the_most_common_passwords_are_refused_and_say_why(api: Api, password: str) -> None:
    response = api.post("/v1/auth/register", json={"email": unique_email(), "password": password})
    assert response.status == 422
    assert "most common" in response.json()["errors"][0]["msg"]
    assert password not in response.body.decode()
