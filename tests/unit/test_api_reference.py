"""docs/API.md, the API reference, says what the OpenAPI document says: the same operations, and for each the
status codes, query parameters, request headers, body and result; the same shapes, field by field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from watchlist_api.app import create_app

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "API.md"
_SECTION = re.compile(r"^### `([^`]+)`\n", re.MULTILINE)
_OPERATION = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$")
# Read by the app itself (conditional.py), so the OpenAPI document does not list it as a parameter.
CONDITIONAL_READ_HEADER = "if-none-match"


def _sections() -> dict[str, str]:
    parts = _SECTION.split(REFERENCE.read_text())
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _entry(section: str, label: str) -> str | None:
    """The text of a `- Label: ...` line (and its indented continuation), without parenthesised remarks."""
    match = re.search(rf"^- {label}: (.*(?:\n  .*)*)", section, re.MULTILINE)
    return re.sub(r"\([^)]*\)", "", match[1].replace("\n", " ")) if match else None


def _names(section: str, label: str) -> list[str]:
    return re.findall(r"`([^`]+)`", _entry(section, label) or "")


def _schema_name(documented: str) -> str:
    return documented.replace("[", "_").replace("]", "_")  # FastAPI names Page[User] "Page_User_"


def _named(schema: dict[str, Any]) -> str:
    """A schema's component name (through `X | None`), or its title when it is inline."""
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            return str(option["$ref"]).rsplit("/", 1)[1]
    return str(schema["title"])


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app().openapi()


@pytest.fixture(scope="module")
def documented_operations() -> dict[tuple[str, str], str]:
    operations = {}
    for heading, section in _sections().items():
        if match := _OPERATION.match(heading):
            operations[(match[1].lower(), match[2])] = section
    return operations


def test_the_reference_lists_every_operation_and_no_other(
    openapi: dict[str, Any], documented_operations: dict[tuple[str, str], str]
) -> None:
    served = {(method, path) for path, operations in openapi["paths"].items() for method in operations}
    assert set(documented_operations) == served


def test_each_operation_is_documented_as_the_openapi_document_describes_it(
    openapi: dict[str, Any], documented_operations: dict[tuple[str, str], str]
) -> None:
    for (method, path), section in documented_operations.items():
        operation = openapi["paths"][path][method]
        where = f"{method.upper()} {path}"
        answers = set(re.findall(r"\b[1-5]\d\d\b", _entry(section, "Answers") or ""))
        assert answers == set(operation["responses"]), where
        parameters = operation.get("parameters", [])
        query = {parameter["name"] for parameter in parameters if parameter["in"] == "query"}
        assert set(_names(section, "Query")) == query, where
        headers = {parameter["name"].lower() for parameter in parameters if parameter["in"] == "header"}
        if "304" in operation["responses"]:
            headers.add(CONDITIONAL_READ_HEADER)
        assert {name.lower() for name in _names(section, "Headers")} == headers, where
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        assert [_schema_name(name) for name in _names(section, "Body")] == ([_named(body["schema"])] if body else [])
        success = next(answer for status, answer in operation["responses"].items() if status.startswith("2"))
        result = success.get("content", {}).get("application/json")
        assert [_schema_name(name) for name in _names(section, "Returns")] == (
            [_named(result["schema"])] if result else []
        ), where


def test_the_reference_describes_every_shape_field_by_field(openapi: dict[str, Any]) -> None:
    schemas = dict(openapi["components"]["schemas"])
    login = openapi["paths"]["/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas[login["title"]] = login  # an inline schema, not a component
    shapes = {
        _schema_name(heading): section for heading, section in _sections().items() if not _OPERATION.match(heading)
    }
    assert set(shapes) == set(schemas)
    for name, section in shapes.items():
        schema = schemas[name]
        if "enum" in schema:
            assert _names(section, "Values") == schema["enum"], name
            continue
        if schema.get("type") == "array":
            assert _names(section, "Items") == [_named(schema["items"])], name
            continue
        fields = re.findall(r"`([^`]+)`(\*?)", _entry(section, "Fields") or "")
        assert [field for field, _ in fields] == list(schema["properties"]), name
        assert {field for field, required in fields if required} == set(schema.get("required", [])), name


def test_operation_ids_are_the_route_names_short_and_unique(openapi: dict[str, Any]) -> None:
    """What a generated client names its functions: `login`, not `login_v1_auth_login_post`."""
    ids = [operation["operationId"] for path in openapi["paths"].values() for operation in path.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z_]{1,24}", operation_id) for operation_id in ids), ids
    assert {"login", "token", "list_items", "change_item", "delete_user_item"} <= set(ids)


def test_every_operation_has_at_most_one_body_type(openapi: dict[str, Any]) -> None:
    """Generators handle one request body type per operation (openapi-python-client fails on two)."""
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert len(operation.get("requestBody", {}).get("content", {})) <= 1, f"{method} {path}"
