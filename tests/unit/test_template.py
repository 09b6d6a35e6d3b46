"""The PynamoDB records must match the tables template.yaml declares: keys, indexes, attribute types."""

from typing import Any

import pytest
from pynamodb.models import Model

from infra.template import create_table_requests, load_template, table_env_vars
from watchlist_core.storage.tables import ItemRecord, SessionRecord, UserRecord

RECORD_TABLE = {UserRecord: "UsersTable", ItemRecord: "ItemsTable", SessionRecord: "SessionsTable"}


def _declared(logical_id: str) -> dict[str, Any]:
    requests = create_table_requests(load_template(), {lid: lid for lid in table_env_vars(load_template())})
    return next(r for r in requests if r["TableName"] == logical_id)


def _keys(schema: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(key["AttributeName"], key["KeyType"]) for key in schema}


@pytest.mark.parametrize(("record", "logical_id"), RECORD_TABLE.items(), ids=lambda v: getattr(v, "__name__", v))
def test_record_keys_and_indexes_match_the_template(record: type[Model], logical_id: str) -> None:
    declared = _declared(logical_id)
    schema = record._get_schema()
    assert _keys(schema["key_schema"]) == _keys(declared["KeySchema"])
    for kind, key in (
        ("global_secondary_indexes", "GlobalSecondaryIndexes"),
        ("local_secondary_indexes", "LocalSecondaryIndexes"),
    ):
        ours = {index["index_name"]: _keys(index["key_schema"]) for index in schema.get(kind, [])}
        theirs = {index["IndexName"]: _keys(index["KeySchema"]) for index in declared.get(key, [])}
        assert ours == theirs
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    assert types == {a["AttributeName"]: a["AttributeType"] for a in declared["AttributeDefinitions"]}


def test_every_table_reaches_the_functions_through_an_environment_variable() -> None:
    assert table_env_vars(load_template()) == {
        "UsersTable": "USERS_TABLE",
        "ItemsTable": "ITEMS_TABLE",
        "SessionsTable": "SESSIONS_TABLE",
    }


def test_short_form_intrinsics_load_as_their_long_form() -> None:
    environment = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["USERS_TABLE"] == {"Ref": "UsersTable"}
    assert load_template()["Resources"]["ApiFunctionLogGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/lambda/${ApiFunction}"
    }


def test_the_sam_local_env_file_sets_only_known_settings() -> None:
    import json

    from infra.template import TEMPLATE_PATH
    from watchlist_core.settings import Settings

    env_file = json.loads((TEMPLATE_PATH.parent / "infra" / "sam-local-env.json").read_text())
    known = {name.upper() for name in Settings.model_fields} | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert set(env_file) == {"ApiFunction"}
    assert set(env_file["ApiFunction"]) <= known
    assert Settings.from_environment(env_file["ApiFunction"]).dynamodb_endpoint_url == "http://dynamodb:8000"
