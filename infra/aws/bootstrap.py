"""Creates the template's tables and queues (idempotently) and the first admin.

python -m infra.aws.bootstrap tables        # against DYNAMODB_ENDPOINT_URL, or AWS
python -m infra.aws.bootstrap queues        # against SQS_ENDPOINT_URL, or AWS; prints AUDIT_QUEUE_URL=...
python -m infra.aws.bootstrap admin         # from ADMIN_EMAIL and ADMIN_PASSWORD
python -m infra.aws.bootstrap admin --stack watchlist-api   # the same, on a deployed stack (its outputs)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import Any

import boto3

from infra.aws.stack import stack_environment
from infra.aws.template import create_table_requests, load_template, queue_definitions, queue_env_vars, table_env_vars
from watchlist_core.domain import User
from watchlist_core.settings import Settings, get_settings
from watchlist_core.wiring import get_services

DEFAULT_ADMIN_EMAIL = "admin@example.com"


def table_names(settings: Settings) -> dict[str, str]:
    """Logical id -> table name, through the environment variable the template passes it in."""
    return {
        logical_id: getattr(settings, env_var.lower())
        for logical_id, env_var in table_env_vars(load_template()).items()
    }


def create_tables(settings: Settings) -> list[str]:
    """Create every table that does not exist yet; return the names created."""
    client: Any = boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.dynamodb_endpoint_url)
    existing = set(client.list_tables()["TableNames"])
    created = []
    for request in create_table_requests(load_template(), table_names(settings)):
        time_to_live = request.pop("TimeToLiveSpecification", None)
        if request["TableName"] in existing:
            continue
        client.create_table(**request)
        client.get_waiter("table_exists").wait(TableName=request["TableName"])
        if time_to_live:
            client.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=time_to_live)
        created.append(request["TableName"])
    return created


# CloudFormation properties of AWS::SQS::Queue -> SQS queue attributes (the ones the template uses).
_QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
    "RedrivePolicy": "RedrivePolicy",
}


def create_queues(
    endpoint_url: str | None, region: str, *, prefix: str = "", visibility_timeout: int | None = None
) -> dict[str, str]:
    """Create the template's queues (named `prefix` + logical id) with its settings; env var -> queue URL.

    `visibility_timeout` overrides the template's, for tests that wait for a redelivery.
    """
    client: Any = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for logical_id, properties in queue_definitions(load_template()).items():
        attributes: dict[str, str] = {}
        for cfn_name, attribute in _QUEUE_ATTRIBUTES.items():
            if cfn_name not in properties:
                continue
            value = properties[cfn_name]
            if cfn_name == "RedrivePolicy":
                target = value["deadLetterTargetArn"]["Fn::GetAtt"][0]
                value = json.dumps({**value, "deadLetterTargetArn": arns[target]})
            attributes[attribute] = str(value).lower() if isinstance(value, bool) else str(value)
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        url = client.create_queue(QueueName=prefix + logical_id, Attributes=attributes)["QueueUrl"]
        urls[logical_id] = url
        arns[logical_id] = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return {env_var: urls[logical_id] for logical_id, env_var in queue_env_vars(load_template()).items()}


def ensure_admin(email: str, password: str) -> tuple[User, bool]:
    """The first admin: created, or an existing account promoted (its password left alone)."""
    return get_services().auth.ensure_admin(email, password)


def first_admin() -> str:
    """The first admin of a local stack, from ADMIN_EMAIL and ADMIN_PASSWORD, else with a generated password;
    what to tell the user."""
    email, password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
    if not (email and password):
        email, password = DEFAULT_ADMIN_EMAIL, secrets.token_urlsafe(12)
        ensure_admin(email, password)
        return f"admin (generated): {email} / {password}"
    user, created = ensure_admin(email, password)
    return f"admin {user.email}: {'created' if created else 'promoted, password unchanged'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["tables", "queues", "admin"])
    parser.add_argument("--stack", help="admin: on this deployed stack, with its functions' settings")
    args = parser.parse_args(argv)
    if args.what == "tables":
        print("created:", ", ".join(create_tables(get_settings())) or "nothing (all tables exist)")
        return 0
    if args.what == "queues":
        settings = get_settings()
        for env_var, url in create_queues(settings.sqs_endpoint_url, settings.aws_region).items():
            print(f"{env_var}={url}")
        return 0
    email, password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
    if not email or not password:
        print("set ADMIN_EMAIL and ADMIN_PASSWORD", file=sys.stderr)
        return 2
    if args.stack:
        os.environ.update(stack_environment(args.stack))
    user, created = ensure_admin(email, password)
    print(f"admin {user.email} {'created' if created else 'promoted (password unchanged)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
