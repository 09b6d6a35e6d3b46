"""The OpenAPI breaking-change check (`make openapi-check`, infra/commands/openapi_check.py): Optic, pinned in
package-lock.json, fails on what breaks a client of the app's real document and passes what only adds to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.commands import openapi_check
from watchlist_api.app import create_app

REGISTER = ("/v1/auth/register", "post")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def request_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    reference = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    return schema


def test_a_removed_path_and_a_new_required_request_field_are_each_a_breaking_change(
    document: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    # Both in one comparison (each Optic run costs 10-20 s), each named in its report.
    changed = copy.deepcopy(document)
    del changed["paths"]["/v1/watchlists/items/{item_id}"]
    schema = request_schema(changed, *REGISTER)
    schema["properties"]["invitation"] = {"type": "string"}
    schema["required"] = [*schema.get("required", []), "invitation"]

    assert openapi_check.check(document, changed) != 0
    report = capfd.readouterr().out
    assert "GET /v1/watchlists/items/{item_id}: removed" in report
    assert "invitation" in report


def test_a_new_path_and_an_optional_field_pass(document: dict[str, Any]) -> None:
    changed = copy.deepcopy(document)
    changed["paths"]["/v1/lists"] = {
        "get": {"operationId": "list_lists", "tags": ["watchlists"], "responses": {"200": {"description": "Lists"}}}
    }
    request_schema(changed, *REGISTER)["properties"]["display_name"] = {"type": "string"}

    assert openapi_check.check(document, changed) == 0


def test_the_working_tree_checked_against_head_in_a_worktree_passes() -> None:
    assert openapi_check.main(["HEAD"]) == 0
