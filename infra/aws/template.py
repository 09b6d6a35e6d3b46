"""Reads template.yaml, the one declaration of tables and function environment, for local use and tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from infra import ROOT

TEMPLATE_PATH = ROOT / "template.yaml"
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


class _CloudFormationLoader(yaml.SafeLoader):
    """Safe YAML that reads CloudFormation's short tags (`!Ref X`) as their long form (`{"Ref": X}`)."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)
    return loaded


def parameter_value(template: dict[str, Any], value: Any) -> Any:
    """`value`, or the default of the parameter it refers to (`!Ref Architecture` -> "x86_64")."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in template.get("Parameters", {}):
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def function_environment(template: dict[str, Any]) -> dict[str, Any]:
    """The environment every function gets (Globals), values as the template writes them."""
    variables: dict[str, Any] = template["Globals"]["Function"]["Environment"]["Variables"]
    return variables


def table_env_vars(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each DynamoDB table -> the environment variable that carries its name."""
    return {
        value["Ref"]: name
        for name, value in function_environment(template).items()
        if isinstance(value, dict)
        and template["Resources"].get(value.get("Ref"), {}).get("Type") == "AWS::DynamoDB::Table"
    }


def create_table_requests(template: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """boto3 `create_table` arguments for every table of the template, named by `names[logical_id]`."""
    requests = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        properties = resource["Properties"]
        request = {key: properties[key] for key in _TABLE_KEYS if key in properties}
        request["TableName"] = names[logical_id]
        request["BillingMode"] = properties.get("BillingMode", "PAY_PER_REQUEST")
        if "TimeToLiveSpecification" in properties:
            request["TimeToLiveSpecification"] = properties["TimeToLiveSpecification"]
        requests.append(request)
    return requests


def queue_env_vars(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each SQS queue a function is told about -> the environment variable carrying its URL."""
    return {
        value["Ref"]: name
        for name, value in function_environment(template).items()
        if isinstance(value, dict) and template["Resources"].get(value.get("Ref"), {}).get("Type") == "AWS::SQS::Queue"
    }


def queue_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every SQS queue's properties by logical id, dead-letter queues before the queues that use them."""
    queues = {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }

    def redrive_target(properties: dict[str, Any]) -> str | None:
        target = properties.get("RedrivePolicy", {}).get("deadLetterTargetArn")
        return target["Fn::GetAtt"][0] if isinstance(target, dict) else None

    return dict(sorted(queues.items(), key=lambda entry: redrive_target(entry[1]) is not None))
