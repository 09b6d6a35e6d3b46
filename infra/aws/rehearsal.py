"""The deploy rehearsal: the built template packaged, translated and created as a stack on a moto server, as
`make deploy` does on AWS, so that what the stack creates, and the functions' environment it hands out, can be read
back and used offline (tests/integration/test_deploy_rehearsal.py; docs/operations.md, "The deploy rehearsal").

`sam package` uploads the built code and layers to the moto server's S3 (as `sam deploy` does to its bucket);
infra/aws/translate.py runs the SAM transform that CloudFormation would; `MOTO_SHIMS` fill gaps of moto's
CloudFormation, each by the smallest edit of the translated template that gives moto what AWS does itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra import ROOT
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT

SAM_VENV_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
NO_VALUE = {"Ref": "AWS::NoValue"}

Template = dict[str, Any]


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """The environment of a command that should reach the moto server at `endpoint_url` for every AWS service."""
    return os.environ | LOCAL_AWS_ENVIRONMENT | {"AWS_ENDPOINT_URL": endpoint_url, "SAM_CLI_TELEMETRY": "0"}


def package(endpoint_url: str, bucket: str, output: Path) -> Path:
    """`sam package` of the built template (make sam-build) into `bucket` on the moto server; the packaged template."""
    boto3.client("s3", **client_arguments(endpoint_url)).create_bucket(Bucket=bucket)
    subprocess.run(  # noqa: S603 (our own command line)
        [SAM, "package", "--template-file", BUILT_TEMPLATE, "--s3-bucket", bucket, "--output-template-file", output],
        env=aws_environment(endpoint_url),
        check=True,
        capture_output=True,
    )
    return output


def translate(endpoint_url: str, template: Path, parameters: dict[str, str]) -> Template:
    """The SAM transform of `template` with `parameters`, as CloudFormation runs it on a deploy."""
    arguments = [f"{name}={value}" for name, value in parameters.items()]
    translated = subprocess.run(  # noqa: S603 (our own command line)
        [SAM_VENV_PYTHON, "-m", "infra.aws.translate", template, *arguments],
        env=aws_environment(endpoint_url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: Template = json.loads(translated)
    return result


def client_arguments(endpoint_url: str) -> dict[str, str]:
    """boto3 client arguments for the moto server at `endpoint_url`, with its fake credentials."""
    return {
        "endpoint_url": endpoint_url,
        "region_name": LOCAL_AWS_ENVIRONMENT["AWS_REGION"],
        "aws_access_key_id": LOCAL_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    }


def hoist_optional_list_items(template: Template) -> Template:
    """moto keeps an `AWS::NoValue` inside a list (a policy list's `!If [HasGitHubToken, ..., !Ref AWS::NoValue]`
    becomes a None, and creating the role fails), where CloudFormation drops the item. The condition moves up to
    the list: `[a, If(C, x, NoValue)]` becomes `If(C, [a, x], [a])`, which moto resolves as AWS does."""

    def hoisted(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: hoisted(value) for key, value in node.items()}
        if not isinstance(node, list):
            return node
        items = [hoisted(item) for item in node]
        for index, item in enumerate(items):
            if isinstance(item, dict) and list(item) == ["Fn::If"] and NO_VALUE in item["Fn::If"][1:]:
                condition, *branches = item["Fn::If"]
                variants = [
                    items[:index] + ([] if branch == NO_VALUE else [branch]) + items[index + 1 :] for branch in branches
                ]
                return {"Fn::If": [condition, *(hoisted(variant) for variant in variants)]}
        return items

    return template | {"Resources": hoisted(template["Resources"])}


def name_rest_apis(template: Template) -> Template:
    """moto requires a REST API's `Name`; API Gateway takes it from the OpenAPI body's title (SAM's: the stack)."""
    resources = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Name" not in properties:
            resource = resource | {"Properties": properties | {"Name": properties["Body"]["info"]["title"]}}
        resources[logical_id] = resource
    return template | {"Resources": resources}


def rest_api_methods_from_body(template: Template) -> Template:
    """moto does not import a REST API's OpenAPI body, and so refuses its deployment ("The REST API doesn't contain
    any methods"). Each path's proxy method of the body becomes the `AWS::ApiGateway::Resource` and `Method` that
    API Gateway's import makes of it, with the body's integration, and the deployment waits for them."""
    resources = dict(template["Resources"])
    for api_id, api in template["Resources"].items():
        if api["Type"] != "AWS::ApiGateway::RestApi" or "Body" not in api.get("Properties", {}):
            continue
        methods: list[str] = []
        for path, operations in api["Properties"]["Body"]["paths"].items():
            integration = operations["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
            parent: Any = {"Fn::GetAtt": [api_id, "RootResourceId"]}
            for depth, part in enumerate(part for part in path.split("/") if part):
                resource_id = f"{api_id}Path{depth}{''.join(c for c in part if c.isalnum())}"
                resources[resource_id] = {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {"RestApiId": {"Ref": api_id}, "ParentId": parent, "PathPart": part},
                }
                parent = {"Ref": resource_id}
            method_id = f"{api_id}Method{len(methods)}"
            resources[method_id] = {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": api_id},
                    "ResourceId": parent,
                    "HttpMethod": "ANY",
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "Type": integration["type"].upper(),
                        "IntegrationHttpMethod": integration["httpMethod"],
                        "Uri": integration["uri"],
                    },
                },
            }
            methods.append(method_id)
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::ApiGateway::Deployment" and resource["Properties"]["RestApiId"] == {
                "Ref": api_id
            }:
                resources[logical_id] = resource | {"DependsOn": methods}
    return template | {"Resources": resources}


def _referenced(node: Any) -> set[str]:
    """Logical ids `node` refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    if isinstance(node, list):
        return set().union(*map(_referenced, node))
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0])
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            found |= {match.split(".")[0] for match in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= _referenced(value[1:]) if isinstance(value, list) else set()
        else:
            found |= _referenced(value)
    return found


# moto's CloudFormation has no model of these; it skips them, and fails on an attribute read from one.
WITHOUT_MOTO_MODEL = ("AWS::ApiGatewayV2::",)


def drop_what_moto_cannot_create(template: Template) -> Template:
    """moto skips a resource it has no model of (the HTTP API's), then fails reading its attributes (the HttpApiUrl
    output's `HttpApi.ApiEndpoint`). Those resources go, with what refers to them (its invoke permission, its alarm,
    its output): the rehearsal checks them in the translated template only."""
    resources = dict(template["Resources"])
    dropped = {
        logical_id for logical_id, resource in resources.items() if resource["Type"].startswith(WITHOUT_MOTO_MODEL)
    }
    while referring := {
        logical_id
        for logical_id, resource in resources.items()
        if logical_id not in dropped and _referenced(resource) & dropped
    }:
        dropped |= referring
    outputs = {
        name: output for name, output in template.get("Outputs", {}).items() if not _referenced(output) & dropped
    }
    return template | {
        "Resources": {key: value for key, value in resources.items() if key not in dropped},
        "Outputs": outputs,
    }


def _replace_references(node: Any, values: dict[str, Any], sub_texts: dict[str, str]) -> Any:
    """`node` with every `Ref` and `Fn::GetAtt` whose target (`Name`, or `Name.Attribute`) `values` holds replaced
    by its value, and in every `Fn::Sub` string each `${target}` that `sub_texts` holds by its text."""
    if isinstance(node, list):
        return [_replace_references(item, values, sub_texts) for item in node]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"] and node["Ref"] in values:
        return values[node["Ref"]]
    if list(node) == ["Fn::GetAtt"] and ".".join(node["Fn::GetAtt"]) in values:
        return values[".".join(node["Fn::GetAtt"])]
    if list(node) == ["Fn::Sub"] and isinstance(node["Fn::Sub"], str):
        text = node["Fn::Sub"]
        for target, replacement in sub_texts.items():
            text = text.replace("${" + target + "}", replacement)
        return {"Fn::Sub": text}
    return {key: _replace_references(value, values, sub_texts) for key, value in node.items()}


# Where the stand-in of a serverless cache is said to listen: a name that resolves nowhere (RFC 6761).
CACHE_STAND_IN_HOST = "{logical_id}.cache.rehearsal.invalid"
CACHE_STAND_IN_PORT = "6379"


def stand_in_serverless_caches(template: Template) -> Template:
    """moto's CloudFormation has no ElastiCache Serverless cache, and fails on the functions' `REDIS_URL`, made of its
    `Endpoint.Address` and `Endpoint.Port`. The cache goes (checked in the translated template only) and those two
    attributes become a stand-in address, so the rehearsal sees the endpoint reach the functions' environment."""
    caches = {
        key for key, value in template["Resources"].items() if value["Type"] == "AWS::ElastiCache::ServerlessCache"
    }
    attributes = {
        f"{cache}.Endpoint.{name}": value
        for cache in caches
        for name, value in (
            ("Address", CACHE_STAND_IN_HOST.format(logical_id=cache.lower())),
            ("Port", CACHE_STAND_IN_PORT),
        )
    }
    resources = {key: value for key, value in template["Resources"].items() if key not in caches}
    return template | {
        "Resources": _replace_references(resources, attributes, attributes),
        "Outputs": _replace_references(template.get("Outputs", {}), attributes, attributes),
    }


def disable_event_source_mappings(template: Template) -> Template:
    """moto's SQS hands each message sent to a mapped queue to the mapped function at once, running it in Docker;
    without Docker here the message it took is lost. The mapping is created disabled, and the rehearsal plays
    Lambda's poller itself, running the audit handler with the deployed function's environment."""
    return template | {
        "Resources": {
            logical_id: resource | {"Properties": resource["Properties"] | {"Enabled": False}}
            if resource["Type"] == "AWS::Lambda::EventSourceMapping"
            else resource
            for logical_id, resource in template["Resources"].items()
        }
    }


def invoke_functions_unversioned(template: Template) -> Template:
    """moto's CloudFormation has no `AWS::Lambda::Alias` and fails creating SAM's `AWS::Lambda::Version` (the
    function AutoPublishAlias publishes). Both go, and what invoked the alias or the version (a deploy hook) invokes
    the function itself, whose version is `$LATEST`: the translated template is checked for the alias, the
    deployment groups and SnapStart instead."""
    resources = template["Resources"]
    published = {
        logical_id: resource["Properties"]["FunctionName"]["Ref"]
        for logical_id, resource in resources.items()
        if resource["Type"] in {"AWS::Lambda::Alias", "AWS::Lambda::Version"}
    }
    arns: dict[str, Any] = {alias: {"Fn::GetAtt": [function, "Arn"]} for alias, function in published.items()}
    arns |= {f"{version}.Version": "$LATEST" for version in published}
    sub_texts = {alias: "${" + function + ".Arn}" for alias, function in published.items()}
    kept = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] not in {"AWS::Lambda::Alias", "AWS::Lambda::Version"}
    }
    return template | {
        "Resources": _replace_references(kept, arns, sub_texts),
        "Outputs": _replace_references(template.get("Outputs", {}), arns, sub_texts),
    }


# In the order they apply. Each is named in the closing table of docs/operations.md and tested on its own.
MOTO_SHIMS: tuple[Callable[[Template], Template], ...] = (
    hoist_optional_list_items,
    name_rest_apis,
    rest_api_methods_from_body,
    drop_what_moto_cannot_create,
    stand_in_serverless_caches,
    disable_event_source_mappings,
    invoke_functions_unversioned,
)


def for_moto(template: Template) -> Template:
    for shim in MOTO_SHIMS:
        template = shim(template)
    return template


def create_secrets(template: Template, client: Any) -> Template:
    """moto's CloudFormation does not create `AWS::SecretsManager::Secret`. Each is created through Secrets Manager,
    its value from GetRandomPassword with the template's `GenerateSecretString`, as CloudFormation would, and every
    `Ref` to it becomes the secret's ARN."""
    arns = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        generate = resource["Properties"]["GenerateSecretString"]
        value = client.get_random_password(**generate)["RandomPassword"]
        arns[logical_id] = client.create_secret(Name=f"{logical_id}-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]

    return template | {
        "Resources": _replace_references(template["Resources"], arns, {}),
        "Outputs": _replace_references(template["Outputs"], arns, {}),
    }


def condition_holds(template: Template, condition: str, parameters: dict[str, str]) -> bool:
    """A condition of `template` evaluated with `parameters` (and the parameters' defaults), as CloudFormation does;
    for the functions the template's conditions use."""

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return [value(item) for item in node] if isinstance(node, list) else node
        ((function, argument),) = node.items()
        if function == "Ref":
            declared = template["Parameters"][argument]
            given = parameters.get(argument, str(declared.get("Default", "")))
            return given.split(",") if declared["Type"] == "CommaDelimitedList" else given
        if function == "Condition":
            return condition_holds(template, argument, parameters)
        if function == "Fn::Join":
            return argument[0].join(value(argument[1]))
        operands = value(argument)
        evaluate: dict[str, Callable[[list[Any]], bool]] = {
            "Fn::Equals": lambda pair: bool(pair[0] == pair[1]),
            "Fn::Not": lambda single: not single[0],
            "Fn::And": all,
            "Fn::Or": any,
        }
        return evaluate[function](operands)

    return bool(value(template["Conditions"][condition]))


@dataclass
class RehearsedStack:
    name: str
    parameters: dict[str, str]
    translated: Template  # what CloudFormation would create from the template
    created: dict[str, str]  # logical id -> physical id of what moto created
    outputs: dict[str, str]

    def expected(self) -> dict[str, dict[str, Any]]:
        """The translated template's resources whose condition holds: what AWS would create."""
        return {
            logical_id: resource
            for logical_id, resource in self.translated["Resources"].items()
            if "Condition" not in resource or condition_holds(self.translated, resource["Condition"], self.parameters)
        }


def rehearse(endpoint_url: str, name: str, parameters: dict[str, str], workdir: Path) -> RehearsedStack:
    """Package, translate, shim and create the stack `name` on the moto server; what it created."""
    packaged = package(endpoint_url, f"{name.lower()}-artifacts", workdir / "packaged.yaml")
    translated = translate(endpoint_url, packaged, parameters)
    arguments = client_arguments(endpoint_url)
    template = for_moto(create_secrets(translated, boto3.client("secretsmanager", **arguments)))
    cloudformation: Any = boto3.client("cloudformation", **arguments)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
    description = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return RehearsedStack(
        name=name,
        parameters=parameters,
        translated=translated,
        created={resource["LogicalResourceId"]: resource["PhysicalResourceId"] for resource in resources},
        outputs={output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])},
    )
