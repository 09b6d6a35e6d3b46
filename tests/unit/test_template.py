"""template.yaml against the code: the records match its tables, and its queues and APIs fit the functions."""

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from pynamodb.models import Model

from infra import ROOT
from infra.aws.stack import output_value
from infra.aws.template import (
    create_table_requests,
    load_template,
    parameter_value,
    queue_definitions,
    queue_env_vars,
    table_env_vars,
)
from infra.containers.images import lambda_image
from tests.support import DEPLOYED_GRADUALLY
from watchlist_core.storage.tables import (
    AuditEventRecord,
    DirectoryEntryRecord,
    ItemRecord,
    OutboxRecord,
    SessionRecord,
)

RECORD_TABLE = {
    DirectoryEntryRecord: "UsersTable",  # the users table record that declares its index
    ItemRecord: "ItemsTable",
    SessionRecord: "SessionsTable",
    AuditEventRecord: "AuditTable",
    OutboxRecord: "AuditOutboxTable",
}


def _declared(logical_id: str) -> dict[str, Any]:
    requests = create_table_requests(load_template(), {lid: lid for lid in table_env_vars(load_template())})
    return next(r for r in requests if r["TableName"] == logical_id)


def _keys(schema: Iterable[Mapping[str, object]]) -> set[tuple[object, object]]:
    return {(key["AttributeName"], key["KeyType"]) for key in schema}


@pytest.mark.parametrize(("record", "logical_id"), RECORD_TABLE.items(), ids=lambda v: getattr(v, "__name__", v))
def test_record_keys_and_indexes_match_the_template(record: type[Model], logical_id: str) -> None:
    declared = _declared(logical_id)
    schema: dict[str, Any] = dict(record._get_schema())
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
        "AuditTable": "AUDIT_TABLE",
        "AuditOutboxTable": "AUDIT_OUTBOX_TABLE",
        "IdempotencyTable": "IDEMPOTENCY_TABLE",
    }


def test_the_queues_reach_the_functions_and_their_dead_letter_queues_come_first() -> None:
    assert queue_env_vars(load_template()) == {"AuditQueue": "AUDIT_QUEUE_URL", "MailQueue": "MAIL_QUEUE_URL"}
    order = list(queue_definitions(load_template()))
    assert order.index("AuditDeadLetterQueue") < order.index("AuditQueue")
    assert order.index("MailDeadLetterQueue") < order.index("MailQueue")


def test_the_audit_queue_follows_the_lambda_event_source_rules() -> None:
    resources = load_template()["Resources"]
    queue = resources["AuditQueue"]["Properties"]
    function = resources["AuditFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    source = function["Events"]["AuditMessages"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"Fn::GetAtt": ["AuditQueue", "Arn"]}
    alarm = resources["AuditDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AuditDeadLetterQueue", "QueueName"]}}
    ]


def test_audit_events_and_outbox_rows_expire_by_ttl() -> None:
    resources = load_template()["Resources"]
    for table in ("AuditTable", "AuditOutboxTable"):
        ttl = resources[table]["Properties"]["TimeToLiveSpecification"]
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}
    assert AuditEventRecord.expires_at.attr_name == OutboxRecord.expires_at.attr_name == "expires_at"


def test_short_form_intrinsics_load_as_their_long_form() -> None:
    environment = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["USERS_TABLE"] == {"Ref": "UsersTable"}
    assert load_template()["Resources"]["ApiFunctionLogGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/lambda/${ApiFunction}"
    }


def test_the_optional_http_api_sends_every_request_to_the_api_functions_alias_with_the_rest_apis_throttle() -> None:
    resources = load_template()["Resources"]
    optional = {r["Type"]: r["Properties"] for r in resources.values() if r.get("Condition") == "WithHttpApi"}
    integration = optional["AWS::ApiGatewayV2::Integration"]
    assert integration["IntegrationUri"] == {"Ref": "ApiFunction.Alias"}  # a published version, SnapStart's
    assert integration["PayloadFormatVersion"] == "2.0"  # the format the HTTP API sample events carry
    assert optional["AWS::ApiGatewayV2::Route"]["RouteKey"] == "$default"
    assert optional["AWS::Lambda::Permission"]["FunctionName"] == {"Ref": "ApiFunction.Alias"}
    stage = optional["AWS::ApiGatewayV2::Stage"]
    assert stage["StageName"] == "$default"  # no stage prefix in the paths
    rest_throttle = resources["RestApi"]["Properties"]["MethodSettings"][0]
    for setting in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        assert stage["DefaultRouteSettings"][setting] == rest_throttle[setting]


def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears() -> None:
    resources = load_template()["Resources"]
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 6
    topic = {"Ref": "AlarmTopic"}
    for name, properties in alarms.items():
        assert properties.get("AlarmActions") == [topic], name
        assert properties.get("OKActions") == [topic], name
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": topic, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    assert load_template()["Outputs"]["AlarmTopic"]["Value"] == topic


def test_every_value_the_functions_take_from_the_stack_is_an_output() -> None:
    template = load_template()
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    from_stack = {name: value for name, value in environment.items() if isinstance(value, dict)}
    assert "USERS_TABLE" in from_stack
    assert "JWT_SECRET_ARN" in from_stack
    outputs = [output_value(output) for output in template["Outputs"].values()]
    assert [name for name, value in from_stack.items() if value not in outputs] == []


def test_the_functions_and_layers_share_one_runtime_and_one_architecture_parameter() -> None:
    template = load_template()
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    assert template["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    for layer in ("SharedLayer", "DependenciesLayer"):
        resource = template["Resources"][layer]
        assert resource["Properties"]["CompatibleRuntimes"] == [function["Runtime"]]
        assert resource["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
        assert resource["Metadata"] == {
            "BuildMethod": function["Runtime"],
            "BuildArchitecture": {"Ref": "Architecture"},
        }
    # sam local runs the default: AWS's image of that runtime and architecture (or its stand-in).
    assert parameter_value(template, function["Architectures"][0]) == "x86_64"
    assert lambda_image() == "public.ecr.aws/lambda/python:3.13-x86_64"


def test_snapstart_applies_to_the_api_functions_published_versions() -> None:
    template = load_template()
    api = template["Resources"]["ApiFunction"]["Properties"]
    assert api["AutoPublishAlias"] == "live"
    assert api["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert template["Parameters"]["SnapStart"]["AllowedValues"] == ["None", "PublishedVersions"]
    assert template["Parameters"]["SnapStart"]["Default"] == "None"


def test_the_redis_url_is_no_parameter_output_or_environment_value_but_a_secret_only_the_api_function_reads() -> None:
    template = load_template()
    assert "RedisUrl" not in template["Parameters"]
    secret = template["Parameters"]["RedisUrlSecretArn"]
    assert secret["Default"] == ""
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    own_cache = {"Fn::Sub": "rediss://${RedisCache.Endpoint.Address}:${RedisCache.Endpoint.Port}"}
    # The own cache's address (no password) or nothing: a URL given by the operator never reaches the environment.
    assert environment["REDIS_URL"] == {"Fn::If": ["OwnCache", own_cache, ""]}
    assert environment["REDIS_URL_ARN"] == {"Fn::If": ["RedisInSecret", {"Ref": "RedisUrlSecretArn"}, ""]}
    outputs = template["Outputs"]
    assert outputs["RedisUrl"] == {"Condition": "OwnCache", "Value": own_cache}
    assert outputs["RedisUrlSecretArn"] == {"Condition": "RedisInSecret", "Value": {"Ref": "RedisUrlSecretArn"}}
    read_secret = {
        "Fn::If": [
            "RedisInSecret",
            {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "RedisUrlSecretArn"}}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    functions = {
        k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert [name for name, function in functions.items() if read_secret in function["Policies"]] == ["ApiFunction"]
    assert "RedisUrlSecretArn" in str(template["Rules"]["OneRedis"])


def test_network_interface_rights_are_denied_outside_a_vpc() -> None:
    """SAM gives a function whose VpcConfig is declared (an !If here) AWSLambdaVPCAccessExecutionRole whatever the
    condition: each function denies its network-interface actions unless it runs in the VPC."""
    template = load_template()
    functions = {
        k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) == 6  # the four of the app, and the two CodeDeploy hooks
    for name, function in functions.items():
        assert not any("VPCAccessPolicy" in policy for policy in function["Policies"]), name
        (deny,) = [policy for policy in function["Policies"] if policy.get("Fn::If", [None])[0] == "InVpc"]
        _condition, in_vpc, outside = deny["Fn::If"]
        assert in_vpc == {"Ref": "AWS::NoValue"}, name
        (statement,) = outside["Statement"]
        assert statement["Effect"] == "Deny", name
        assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} <= set(statement["Action"]), name
    assert template["Globals"]["Function"]["VpcConfig"]["Fn::If"][0] == "InVpc"


def test_every_function_has_an_errors_alarm_on_the_alarm_topic() -> None:
    resources = load_template()["Resources"]
    watched = {
        dimension["Value"]["Ref"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm" and resource["Properties"].get("MetricName") == "Errors"
        for dimension in resource["Properties"]["Dimensions"]
    }
    # The API function's errors are its 5xx answers, which Api5xxAlarm and HttpApi5xxAlarm watch.
    assert watched == {"AuditFunction", "OutboxRelayFunction", "MailFunction"}
    assert resources["OutboxRelayFunctionErrorsAlarm"]["Properties"]["Namespace"] == "AWS/Lambda"


ACCESS_LOG_FIELDS = {
    "requestId",
    "sourceIp",
    "status",
    "responseLatency",
    "integrationLatency",
    "integrationErrorMessage",
}


def _filled(access_log_format: str) -> dict[str, Any]:
    """One access log line as API Gateway writes it: every $context variable replaced by a value."""
    line = re.sub(r"\$context\.[A-Za-z.]+", "x", access_log_format)
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_both_gateways_write_json_access_logs_with_the_source_status_latencies_and_integration_error() -> None:
    template = load_template()
    resources = template["Resources"]
    group = {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    rest = resources["RestApi"]["Properties"]["AccessLogSetting"]
    http = resources["HttpApiStage"]["Properties"]["AccessLogSettings"]
    for api, setting in (("rest", rest), ("http", http)):
        assert setting["DestinationArn"] == group, api
        line = _filled(setting["Format"])
        assert set(line) >= ACCESS_LOG_FIELDS, api
        assert line["api"] == api
        assert "$context.requestId" in setting["Format"]
        assert "$context.identity.sourceIp" in setting["Format"]
        assert "$context.integrationErrorMessage" in setting["Format"]
    log_group = resources["ApiAccessLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == resources["ApiFunctionLogGroup"]["Properties"]["RetentionInDays"]
    # A REST stage logs only once the region's API Gateway account settings name a CloudWatch role.
    assert resources["RestApi"]["DependsOn"] == "ApiGatewayAccount"
    account = resources["ApiGatewayAccount"]["Properties"]
    assert account["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    assert template["Outputs"]["ApiAccessLogGroupName"]["Value"] == {"Ref": "ApiAccessLogGroup"}


# The metrics AWS publishes that the template's alarms and dashboard may name, by namespace (each service's
# documentation of its CloudWatch metrics): a misspelt name would chart nothing and never alarm.
AWS_METRICS = {
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency", "4xx", "5xx"},
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
    "AWS/DynamoDB": {"ReadThrottleEvents", "WriteThrottleEvents"},
}
_SEARCH_NAMESPACE = re.compile(r"\{([^,}]+)|Namespace=\"([^\"]+)\"")
_SEARCH_METRIC = re.compile(r"MetricName=\"([^\"]+)\"")


def counted_metrics() -> set[str]:
    """What the functions count: the first argument of each call of watchlist_core.observability.count."""
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers" / "shared").rglob("*.py")]
    return {name for path in sources for name in re.findall(r"\bcount\(\"(\w+)\"", path.read_text())}


def _named_metrics(resources: dict[str, Any]) -> Iterable[tuple[str, str, str]]:
    """(where, namespace, metric name) of every metric an alarm or the dashboard names."""
    for logical_id, resource in resources.items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            if "MetricName" in properties:
                yield logical_id, properties["Namespace"], properties["MetricName"]
            for query in properties.get("Metrics", []):
                if "MetricStat" in query:
                    metric = query["MetricStat"]["Metric"]
                    yield logical_id, metric["Namespace"], metric["MetricName"]
        elif resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.loads(re.sub(r"\$\{[^}]+\}", "x", properties["DashboardBody"]["Fn::Sub"]))
            for widget in body["widgets"]:
                for metric in widget["properties"]["metrics"]:
                    if "expression" in metric[0]:
                        search = metric[0]["expression"]
                        namespace = next(group for group in _SEARCH_NAMESPACE.search(search).groups() if group)  # type: ignore[union-attr]
                        yield widget["properties"]["title"], namespace, _SEARCH_METRIC.search(search)[1]  # type: ignore[index]
                    else:
                        yield widget["properties"]["title"], metric[0], metric[1]


def test_every_alarm_and_dashboard_widget_names_a_metric_something_emits() -> None:
    resources = load_template()["Resources"]
    named = list(_named_metrics(resources))
    counted = counted_metrics()
    for where, namespace, name in named:
        emitted = counted if namespace == "Watchlist" else AWS_METRICS[namespace]
        assert name in emitted, (where, namespace, name)
    # And the dashboard shows everything the functions count.
    dashboard = {name for where, namespace, name in named if namespace == "Watchlist" and where not in resources}
    assert dashboard == counted
    # Its ${...} are the stack's own resources (or AWS's pseudo parameters).
    body = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    references = {reference.split(".")[0] for reference in re.findall(r"\$\{([^}]+)\}", body)}
    assert references - {"AWS::StackName", "AWS::Region"} <= set(resources)


def test_the_dashboard_shows_what_the_deployment_alarms_watch() -> None:
    resources = load_template()["Resources"]
    body = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for function in DEPLOYED_GRADUALLY:
        for metric in ("Errors", "Throttles", "ConcurrentExecutions"):
            assert f'["AWS/Lambda", "{metric}", "FunctionName", "${{{function}}}"]' in body, (function, metric)
    for queue in ("AuditQueue", "AuditDeadLetterQueue", "MailQueue", "MailDeadLetterQueue"):
        assert f"${{{queue}.QueueName}}" in body
    assert 'ExecutedVersion} FunctionName=\\"${ApiFunction}\\"' in body  # the API function per version


def test_every_function_that_serves_or_consumes_traffic_deploys_gradually_with_the_deployment_type() -> None:
    template = load_template()
    resources = template["Resources"]
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    hooks = {
        name
        for name in functions
        if resources[name]["Properties"].get("FunctionName", {}).get("Fn::Sub", "").startswith("CodeDeployHook_")
    }
    assert functions - hooks == set(DEPLOYED_GRADUALLY)
    assert template["Parameters"]["DeploymentType"]["Default"].startswith("Canary")
    assert "AllAtOnce" in template["Parameters"]["DeploymentType"]["AllowedValues"]
    for function, prefix in DEPLOYED_GRADUALLY.items():
        properties = resources[function]["Properties"]
        assert properties["AutoPublishAlias"] == "live", function
        preference = properties["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentType"}, function
        assert {"Ref": f"{prefix}NewVersionFailingAlarm"} in preference["Alarms"], function
    assert resources["ApiFunction"]["Properties"]["DeploymentPreference"]["Hooks"] == {
        "PreTraffic": {"Ref": "PreTrafficHook"},
        "PostTraffic": {"Ref": "PostTrafficHook"},
    }
    for hook in hooks:  # the hooks themselves shift nothing and are watched by the deployment they report to
        assert "DeploymentPreference" not in resources[hook]["Properties"]
        assert "AutoPublishAlias" not in resources[hook]["Properties"]
