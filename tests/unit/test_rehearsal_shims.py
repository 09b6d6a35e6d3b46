"""Each edit the deploy rehearsal makes to the translated template for moto (infra/aws/rehearsal.py), on its own."""

from __future__ import annotations

from typing import Any

from infra.aws.rehearsal import (
    MOTO_SHIMS,
    NO_VALUE,
    condition_holds,
    create_secrets,
    disable_event_source_mappings,
    drop_what_moto_cannot_create,
    hoist_optional_list_items,
    invoke_functions_unversioned,
    name_rest_apis,
    rest_api_methods_from_body,
    stand_in_serverless_caches,
)


def template(**resources: Any) -> dict[str, Any]:
    return {"Resources": resources, "Outputs": {}}


def test_an_optional_list_item_lifts_its_condition_to_the_list() -> None:
    policies = ["a", {"Fn::If": ["C", "x", NO_VALUE]}, {"Fn::If": ["D", NO_VALUE, "y"]}]
    shimmed = hoist_optional_list_items(template(Role={"Type": "AWS::IAM::Role", "Properties": {"P": policies}}))
    assert shimmed["Resources"]["Role"]["Properties"]["P"] == {
        "Fn::If": [
            "C",
            {"Fn::If": ["D", ["a", "x"], ["a", "x", "y"]]},
            {"Fn::If": ["D", ["a"], ["a", "y"]]},
        ]
    }


def test_a_list_without_optional_items_is_left_alone() -> None:
    resources = {"Role": {"Type": "AWS::IAM::Role", "Properties": {"P": ["a", {"Fn::If": ["C", "x", "y"]}]}}}
    assert hoist_optional_list_items(template(**resources))["Resources"] == resources


def rest_api(**properties: Any) -> dict[str, Any]:
    body = {
        "info": {"title": {"Ref": "AWS::StackName"}},
        "paths": {
            path: {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {
                "type": "aws_proxy", "httpMethod": "POST", "uri": "arn:fn",
            }}}
            for path in ("/", "/{proxy+}")
        },
    }  # fmt: skip
    return {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": body, **properties}}


def test_a_rest_api_is_named_by_its_body_title_unless_named() -> None:
    shimmed = name_rest_apis(template(Api=rest_api(), Named=rest_api(Name="mine")))["Resources"]
    assert shimmed["Api"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    assert shimmed["Named"]["Properties"]["Name"] == "mine"


def test_a_rest_api_body_becomes_its_resources_and_methods() -> None:
    deployment = {"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api"}}}
    shimmed = rest_api_methods_from_body(template(Api=rest_api(), Deploy=deployment))["Resources"]
    proxy = shimmed["ApiPath0proxy"]["Properties"]
    assert proxy == {
        "RestApiId": {"Ref": "Api"},
        "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
        "PathPart": "{proxy+}",
    }
    root, below = shimmed["ApiMethod0"]["Properties"], shimmed["ApiMethod1"]["Properties"]
    assert root["ResourceId"] == {"Fn::GetAtt": ["Api", "RootResourceId"]}
    assert below["ResourceId"] == {"Ref": "ApiPath0proxy"}
    assert root["Integration"] == {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": "arn:fn"}
    assert root["HttpMethod"] == "ANY"
    assert shimmed["Deploy"]["DependsOn"] == ["ApiMethod0", "ApiMethod1"]


def test_resources_without_a_moto_model_go_with_what_refers_to_them() -> None:
    shimmed = drop_what_moto_cannot_create(
        {
            "Resources": {
                "HttpApi": {"Type": "AWS::ApiGatewayV2::Api"},
                "Permission": {
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {"SourceArn": {"Fn::Sub": "x/${HttpApi}/*"}},
                },
                "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Value": {"Ref": "HttpApi"}}},
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {}},
            },
            "Outputs": {
                "HttpApiUrl": {"Value": {"Fn::Sub": "${HttpApi.ApiEndpoint}/"}},
                "FunctionName": {"Value": {"Ref": "Function"}},
            },
        }
    )
    assert list(shimmed["Resources"]) == ["Function"]
    assert list(shimmed["Outputs"]) == ["FunctionName"]


def test_a_serverless_cache_gives_way_to_a_stand_in_address() -> None:
    url = {"Fn::Sub": "rediss://${RedisCache.Endpoint.Address}:${RedisCache.Endpoint.Port}"}
    shimmed = stand_in_serverless_caches(
        {
            "Resources": {
                "RedisCache": {"Type": "AWS::ElastiCache::ServerlessCache"},
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {"Env": url}},
            },
            "Outputs": {"RedisUrl": {"Value": {"Fn::If": ["Own", url, {"Ref": "RedisUrl"}]}}},
        }
    )
    stand_in = {"Fn::Sub": "rediss://rediscache.cache.rehearsal.invalid:6379"}
    assert list(shimmed["Resources"]) == ["Function"]
    assert shimmed["Resources"]["Function"]["Properties"]["Env"] == stand_in
    assert shimmed["Outputs"]["RedisUrl"]["Value"]["Fn::If"][1] == stand_in


def test_event_source_mappings_are_created_disabled() -> None:
    mapping = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"BatchSize": 10}}
    shimmed = disable_event_source_mappings(template(Mapping=mapping))
    assert shimmed["Resources"]["Mapping"]["Properties"] == {"BatchSize": 10, "Enabled": False}


def test_what_invoked_an_alias_invokes_the_function_without_versions() -> None:
    uri = {"Fn::Sub": "arn:aws:apigateway:lambda:path/functions/${FunctionAliaslive}/invocations"}
    shimmed = invoke_functions_unversioned(
        template(
            Function={"Type": "AWS::Lambda::Function", "Properties": {}},
            FunctionVersion1={"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Function"}}},
            FunctionAliaslive={"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Function"}}},
            Api={"Type": "AWS::ApiGateway::RestApi", "Properties": {"Uri": uri}},
            Permission={
                "Type": "AWS::Lambda::Permission",
                "Properties": {"FunctionName": {"Ref": "FunctionAliaslive"}},
            },
            Hook={
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Target": {"Ref": "FunctionVersion1"},
                    "Number": {"Fn::GetAtt": ["FunctionVersion1", "Version"]},
                },
            },
        )
    )
    assert list(shimmed["Resources"]) == ["Function", "Api", "Permission", "Hook"]
    assert shimmed["Resources"]["Hook"]["Properties"] == {
        "Target": {"Fn::GetAtt": ["Function", "Arn"]},
        "Number": "$LATEST",
    }
    assert shimmed["Resources"]["Api"]["Properties"]["Uri"] == {
        "Fn::Sub": "arn:aws:apigateway:lambda:path/functions/${Function.Arn}/invocations"
    }
    assert shimmed["Resources"]["Permission"]["Properties"]["FunctionName"] == {"Fn::GetAtt": ["Function", "Arn"]}


def test_every_shim_is_applied() -> None:
    assert [shim.__name__ for shim in MOTO_SHIMS] == [
        "hoist_optional_list_items",
        "name_rest_apis",
        "rest_api_methods_from_body",
        "drop_what_moto_cannot_create",
        "stand_in_serverless_caches",
        "disable_event_source_mappings",
        "invoke_functions_unversioned",
    ]


class FakeSecretsManager:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def get_random_password(self, **settings: Any) -> dict[str, str]:
        return {"RandomPassword": "p" * settings["PasswordLength"]}

    def create_secret(self, **arguments: Any) -> dict[str, str]:
        self.created.append(arguments)
        return {"ARN": f"arn:secret:{arguments['Name']}"}


def test_a_secret_is_created_beside_the_stack_and_referred_to_by_its_arn() -> None:
    secrets = FakeSecretsManager()
    shimmed = create_secrets(
        {
            "Resources": {
                "JwtSecret": {
                    "Type": "AWS::SecretsManager::Secret",
                    "Properties": {"GenerateSecretString": {"PasswordLength": 64}},
                },
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {"Env": {"Ref": "JwtSecret"}}},
            },
            "Outputs": {"JwtSecretArn": {"Value": {"Ref": "JwtSecret"}}},
        },
        secrets,
    )
    (created,) = secrets.created
    assert created["SecretString"] == "p" * 64
    arn = f"arn:secret:{created['Name']}"
    assert shimmed["Resources"]["Function"]["Properties"]["Env"] == arn
    assert shimmed["Outputs"]["JwtSecretArn"]["Value"] == arn


def test_conditions_are_evaluated_with_the_parameters_and_their_defaults() -> None:
    declared = {
        "Parameters": {
            "Subnets": {"Type": "CommaDelimitedList", "Default": ""},
            "Engine": {"Type": "String", "Default": "none"},
        },
        "Conditions": {
            "InVpc": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Subnets"}]}, ""]}]},
            "OwnCache": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Engine"}, "none"]}]},
            "Both": {"Fn::And": [{"Condition": "InVpc"}, {"Condition": "OwnCache"}]},
            "Either": {"Fn::Or": [{"Condition": "InVpc"}, {"Condition": "OwnCache"}]},
        },
    }
    assert not condition_holds(declared, "InVpc", {})
    assert condition_holds(declared, "InVpc", {"Subnets": "subnet-1,subnet-2"})
    assert condition_holds(declared, "Either", {"Engine": "valkey"})
    assert not condition_holds(declared, "Both", {"Engine": "valkey"})
    assert condition_holds(declared, "Both", {"Engine": "valkey", "Subnets": "subnet-1"})
