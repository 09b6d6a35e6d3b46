"""Commands on a deployed stack, reading everything from its outputs (make deploy, make admin, make destroy).

python -m infra.aws.stack url STACK              # the API's base URL
python -m infra.aws.stack output STACK NAME      # one output, e.g. AuditDeadLetterQueueArn
python -m infra.aws.stack env STACK              # the environment the stack gives its functions, NAME=value lines
python -m infra.aws.stack destroy STACK [--yes]  # sam delete, then what it leaves behind
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import boto3

from infra import ROOT
from infra.aws.template import function_environment, load_template

SAM = ROOT / ".venv-sam" / "bin" / "sam"


def outputs(stack: str) -> dict[str, str]:
    client: Any = boto3.client("cloudformation")
    description = client.describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}


def output_value(output: dict[str, Any]) -> Any:
    """An output's value as the functions' environment writes it: a conditional output (`Condition: C`, `Value: x`)
    is the environment's `!If [C, x, ""]`, a variable left empty when C does not hold."""
    if "Condition" in output:
        return {"Fn::If": [output["Condition"], output["Value"], ""]}
    return output["Value"]


def output_env_vars(template: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> the output with the same value (the template gives each stack value an output)."""
    by_value = {repr(output_value(output)): name for name, output in template["Outputs"].items()}
    return {
        env_var: by_value[repr(value)]
        for env_var, value in function_environment(template).items()
        if repr(value) in by_value
    }


def stack_environment(stack: str) -> dict[str, str]:
    """What the stack gives its functions' environment (tables, queue, secret, Redis, stage, settings), from its
    outputs: run with it, an operator's command sees what the deployed functions see. A conditional output the stack
    does not have (RedisUrl without the own cache) leaves its variable unset, as the functions have it empty."""
    values = outputs(stack)
    return {env_var: values[output] for env_var, output in output_env_vars(load_template()).items() if output in values}


def retained_resources(template: dict[str, Any]) -> list[str]:
    """Logical ids of what the stack keeps when it is deleted."""
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("DeletionPolicy") == "Retain"
    ]


def destroy(stack: str, *, confirmed: bool) -> list[str]:
    """`sam delete` the stack; what is left of it afterwards, one line each."""
    cloudformation: Any = boto3.client("cloudformation")
    retained = set(retained_resources(load_template()))
    kept = {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for summary in cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        if summary.get("LogicalResourceId") in retained
    }
    no_prompts = ["--no-prompts"] if confirmed else []
    subprocess.run([SAM, "delete", "--stack-name", stack, *no_prompts], check=True)  # noqa: S603 (our own command)
    dynamodb: Any = boto3.client("dynamodb")
    existing_tables = set(dynamodb.list_tables()["TableNames"])
    left = [
        f"table {name} ({logical_id}), kept: aws dynamodb delete-table --table-name {name}"
        for logical_id, name in sorted(kept.items())
        if name in existing_tables
    ]
    logs: Any = boto3.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{stack}-")["logGroups"]
    # The stack deletes its functions' log groups; one is back if a function ran meanwhile and logged again.
    left += [
        f"log group {group['logGroupName']}: aws logs delete-log-group --log-group-name {group['logGroupName']}"
        for group in groups
    ]
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["url", "output", "env", "destroy"])
    parser.add_argument("stack")
    parser.add_argument("name", nargs="?", help="the output, for `output`")
    parser.add_argument("--yes", action="store_true", help="destroy without asking")
    args = parser.parse_args(argv)
    if args.what == "url":
        print(outputs(args.stack)["ApiUrl"])
    elif args.what == "output":
        print(outputs(args.stack)[args.name])
    elif args.what == "env":
        for name, value in stack_environment(args.stack).items():
            print(f"{name}={value}")
    else:
        left = destroy(args.stack, confirmed=args.yes)
        print("left behind:" if left else "nothing of the stack is left behind", *left, sep="\n  ")
        print("sam's artifact bucket (aws-sam-cli-managed-default) stays; it serves every stack of the account")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
