import json

import pytest
from starlette.datastructures import Headers

from infra.local.events import api_gateway_event
from watchlist_api import problems
from watchlist_api.conditional import expected_versions
from watchlist_api.middleware import choose_request_id, stage_prefix


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("*", None), ('"3"', frozenset({3})), ('"3", W/"4", "x"', frozenset({3})), ("3", frozenset())],
)
def test_if_match_lists_the_acceptable_versions(header: str | None, expected: frozenset[int] | None) -> None:
    assert expected_versions(header) == expected


@pytest.mark.parametrize(
    ("version", "stage", "expected"),
    [("1.0", "Prod", "/Prod"), ("2.0", "Prod", "/Prod"), ("1.0", None, ""), ("2.0", None, "")],
)
def test_the_stage_prefix_is_found_only_when_the_client_url_has_it(
    version: str, stage: str | None, expected: str
) -> None:
    assert stage_prefix(api_gateway_event("GET", "/v1/x", stage=stage, version=version)) == expected


def test_a_custom_domain_without_the_stage_in_its_path_gets_no_prefix() -> None:
    event = api_gateway_event("GET", "/v1/x", version="1.0")
    event["requestContext"]["stage"] = "Prod"
    assert stage_prefix(event) == ""


def test_request_ids_fall_back_to_a_fresh_uuid_without_a_gateway() -> None:
    chosen = choose_request_id(Headers({"x-request-id": "bad id!"}), {})
    assert len(chosen) == 36


def test_an_answer_is_deliverable_while_lambdas_runtime_would_write_it_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its size is the body as python3.13's runtime writes it into the invocation's answer: a JSON string, unescaped
    but for `"`, `\\` (and the control characters a JSON body never holds raw)."""
    body = json.dumps({"notes": 'a "quoted" \\ line\nünïcode 🎬'}, ensure_ascii=False).encode()
    written = len(json.dumps(body.decode(), ensure_ascii=False).encode())
    monkeypatch.setattr(problems, "LAMBDA_RESPONSE_LIMIT", written + problems.HEADERS_ALLOWANCE)
    assert problems.deliverable(body) is body
    monkeypatch.setattr(problems, "LAMBDA_RESPONSE_LIMIT", written + problems.HEADERS_ALLOWANCE - 1)
    with pytest.raises(problems.AnswerTooLargeError) as refused:
        problems.deliverable(body)
    assert refused.value.size == written
