"""The GitHub Actions pipeline (.github/workflows) and its AWS side (infra/aws/pipeline.yaml): what actionlint, zizmor
and cfn-lint (make scan) cannot see. One build on main, deployed everywhere; production only after staging's checks;
valid, distinct preview stack names; deploy roles that trust this repository's tokens only."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import ROOT
from infra.aws.template import load_template

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_ACTION = "./.github/actions/sam-deploy"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
GITHUB_AUDIENCE = "token.actions.githubusercontent.com:aud"
GITHUB_SUBJECT = "token.actions.githubusercontent.com:sub"
REPOSITORY = "repo:${GitHubRepository}:"
LAMBDA_NAME_LENGTH = 64


def _max_stack_name() -> int:
    """The longest stack name that leaves the deploy hooks' function names (CodeDeployHook_<stack>_...) within
    Lambda's limit."""
    named = [
        resource["Properties"]["FunctionName"]["Fn::Sub"]
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function" and "FunctionName" in resource["Properties"]
    ]
    return LAMBDA_NAME_LENGTH - max(len(name.replace("${AWS::StackName}", "")) for name in named)


MAX_STACK_NAME = _max_stack_name()


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    """The workflow's `on:`, which YAML 1.1 (PyYAML) reads as the key true."""
    events: dict[str, Any] = document[True]
    return events


def all_workflows() -> dict[str, dict[Any, Any]]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in steps(job) if step.get("uses", "").startswith(action)]


def needs(job: dict[str, Any]) -> set[str]:
    declared = job.get("needs", [])
    return {declared} if isinstance(declared, str) else set(declared)


def test_main_builds_once_and_every_deploy_uses_the_uploaded_build() -> None:
    jobs = workflow("main.yml")["jobs"]
    builders = [name for name, job in jobs.items() if "sam-build" in runs(job) or "sam build" in runs(job)]
    assert builders == ["build"]
    (upload,) = uses(jobs["build"], "actions/upload-artifact@")
    deployers = [name for name, job in jobs.items() if uses(job, DEPLOY_ACTION)]
    assert deployers == ["staging", "production"]
    for name in deployers:
        (download,) = uses(jobs[name], "actions/download-artifact@")
        assert download["with"]["name"] == upload["with"]["name"]
        assert "build" in needs(jobs[name])
        (deploy,) = uses(jobs[name], DEPLOY_ACTION)
        assert Path(deploy["with"]["template"]).parent == Path(download["with"]["path"])


def test_production_deploys_only_after_staging_passed_its_smoke_and_client_checks() -> None:
    jobs = workflow("main.yml")["jobs"]
    checks = jobs["staging-checks"]
    assert needs(checks) == {"staging"}
    assert "make smoke URL=" in runs(checks)
    assert "make client-check URL=" in runs(checks)
    assert "staging-checks" in needs(jobs["production"])
    assert jobs["production"]["environment"]["name"] == "production"
    (deploy,) = uses(jobs["production"], DEPLOY_ACTION)
    assert deploy["with"]["deployment-type"] == "Canary10Percent5Minutes"
    (staging,) = uses(jobs["staging"], DEPLOY_ACTION)
    assert staging["with"]["deployment-type"] == "AllAtOnce"


def test_deploys_are_serialised_per_stack_and_never_cancelled() -> None:
    for name, document in all_workflows().items():
        for job_name, job in document["jobs"].items():
            if uses(job, CREDENTIALS_ACTION):
                assert job["concurrency"]["cancel-in-progress"] is False, (name, job_name)


def test_only_jobs_that_assume_an_aws_role_may_ask_for_an_oidc_token() -> None:
    for name, document in all_workflows().items():
        assert document["permissions"] == {}, name
        assert "pull_request_target" not in triggers(document), name
        for job_name, job in document["jobs"].items():
            asks = job.get("permissions", {}).get("id-token") == "write"
            assert asks == bool(uses(job, CREDENTIALS_ACTION)), (name, job_name)
            for checkout in uses(job, "actions/checkout@"):
                assert checkout["with"]["persist-credentials"] is False, (name, job_name)


def preview_stack(branch: str, tmp_path: Path) -> str:
    """The stack name preview.yml's `name` step gives `branch`, by running that step's script."""
    (step,) = workflow("preview.yml")["jobs"]["name"]["steps"]
    output = tmp_path / "output"
    output.write_text("")
    subprocess.run(  # noqa: S603 (the workflow's own script)
        ["bash", "-euo", "pipefail", "-c", step["run"]],  # noqa: S607 (bash from the PATH, as the runner's)
        env={**os.environ, "BRANCH": branch, "GITHUB_OUTPUT": str(output)},
        check=True,
    )
    (line,) = output.read_text().splitlines()
    key, value = line.split("=", 1)
    assert key == "stack"
    return value


@pytest.mark.parametrize(
    "branch", ["feature/Login_Page", "UPPER", "x" * 200, "fix--double--", "-/-", "release/1.2.3", "ünïcode-ß"]
)
def test_a_preview_stack_name_is_valid_whatever_the_branch(branch: str, tmp_path: Path) -> None:
    stack = preview_stack(branch, tmp_path)
    assert re.fullmatch(r"watchlist-preview-([a-z0-9]+-)*[0-9a-f]{6}", stack), stack
    assert len(stack) <= MAX_STACK_NAME


def test_branches_that_sanitize_alike_get_distinct_preview_stacks(tmp_path: Path) -> None:
    assert preview_stack("feature/x", tmp_path) != preview_stack("feature-x", tmp_path)
    assert preview_stack("feature/x", tmp_path) == preview_stack("feature/x", tmp_path)


def test_the_preview_workflow_deletes_on_branch_deletion_only() -> None:
    document = workflow("preview.yml")
    assert triggers(document)["push"]["branches-ignore"][0] == "main"
    assert "delete" in triggers(document)
    destroy = document["jobs"]["destroy"]
    assert destroy["if"] == "github.event_name == 'delete'"
    assert "github.event.ref_type == 'branch'" in document["jobs"]["name"]["if"]
    assert 'make destroy STACK="$STACK" YES=1' in runs(destroy)


def pipeline_roles() -> dict[str, dict[str, Any]]:
    template = yaml.safe_load((ROOT / "infra" / "aws" / "pipeline.yaml").read_text())
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == "AWS::IAM::Role"}


def subjects(role: dict[str, Any]) -> list[str]:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]
    assert condition["StringEquals"][GITHUB_AUDIENCE] == "sts.amazonaws.com"
    found = [tests[GITHUB_SUBJECT]["Fn::Sub"] for tests in condition.values() if GITHUB_SUBJECT in tests]
    assert len(found) == 1
    return found


def test_every_deploy_role_trusts_only_this_repositorys_workflow_tokens() -> None:
    roles = pipeline_roles()
    assert set(roles) == {"StagingDeployRole", "PreviewDeployRole", "ProductionDeployRole"}
    for role in roles.values():
        for subject in subjects(role):
            assert subject.startswith(REPOSITORY)
            assert "*" not in subject.removeprefix(REPOSITORY).removesuffix("refs/heads/*")
    assert subjects(roles["ProductionDeployRole"]) == [f"{REPOSITORY}environment:production"]
    assert subjects(roles["StagingDeployRole"]) == [f"{REPOSITORY}environment:staging"]


def test_the_deploy_roles_policies_differ_only_in_their_stacks() -> None:
    roles = pipeline_roles()
    stacks = {
        "StagingDeployRole": "${StagingStackName}",
        "ProductionDeployRole": "${ProductionStackName}",
        "PreviewDeployRole": "watchlist-preview-*",
    }

    def generic(name: str) -> str:
        (policy,) = roles[name]["Properties"]["Policies"]
        text = json.dumps(policy).replace(f"{stacks[name]}-*", "STACKS").replace(stacks[name], "STACKS")
        return text.replace(', "cloudformation:DeleteStack"', "")  # previews' branches come and go

    assert generic("StagingDeployRole") == generic("ProductionDeployRole") == generic("PreviewDeployRole")
    (preview,) = roles["PreviewDeployRole"]["Properties"]["Policies"]
    assert "cloudformation:DeleteStack" in json.dumps(preview)


def test_every_stack_the_workflows_deploy_by_default_fits_the_deploy_hooks_names() -> None:
    defaults = re.findall(r"\|\| '([a-z0-9-]+)'", (WORKFLOWS / "main.yml").read_text())
    assert defaults
    assert all(len(stack) <= MAX_STACK_NAME for stack in defaults), (defaults, MAX_STACK_NAME)
    assert MAX_STACK_NAME == 44
