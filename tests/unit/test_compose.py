"""docker-compose.yml and infra/sam-local-env.json, checked where Docker cannot run them: the Compose
specification's schema, and agreement with template.yaml on every table and queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from infra.template import load_template, queue_definitions, queue_env_vars, table_env_vars
from watchlist_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def sam_local_environment() -> dict[str, str]:
    variables: dict[str, str] = json.loads((ROOT / "infra" / "sam-local-env.json").read_text())["Parameters"]
    return variables


def test_the_compose_file_follows_the_compose_specification() -> None:
    command = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        str(ROOT / "docker-compose.yml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_bootstrap_creates_the_templates_tables_and_queues_in_the_compose_services() -> None:
    services = compose()["services"]
    bootstrap = services["bootstrap"]
    script = " ".join(bootstrap["command"])
    assert "python -m infra.bootstrap tables" in script
    assert "python -m infra.bootstrap queues" in script
    for variable, service in (("DYNAMODB_ENDPOINT_URL", "dynamodb"), ("SQS_ENDPOINT_URL", "sqs")):
        assert urlparse(bootstrap["environment"][variable]).hostname == service
        assert service in bootstrap["depends_on"]
    assert {"dynamodb", "redis", "sqs", "frontend"} <= set(services)
    assert "frontend/requirements.txt" in " ".join(services["frontend"]["command"])
    assert all(service["networks"] == ["watchlist"] for service in services.values())


def test_the_sam_local_env_file_names_what_the_bootstrap_creates() -> None:
    environment = sam_local_environment()
    services = compose()["services"]
    # Table names: the bootstrap creates them under the settings' names; sam local must use the same.
    bootstrap_settings = Settings.from_environment(services["bootstrap"]["environment"])
    template = load_template()
    for variable in table_env_vars(template).values():
        assert environment[variable] == getattr(bootstrap_settings, variable.lower())
    # Queues: created under their logical ids (infra.bootstrap.create_queues), dead-letter queue included.
    for logical_id, variable in queue_env_vars(template).items():
        assert urlparse(environment[variable]).path.endswith("/" + logical_id)
    assert set(queue_definitions(template)) == {"AuditQueue", "AuditDeadLetterQueue"}
    # Every endpoint is a compose service on the shared network, and every key is a known setting.
    for variable in ("DYNAMODB_ENDPOINT_URL", "SQS_ENDPOINT_URL", "AUDIT_QUEUE_URL", "REDIS_URL"):
        assert urlparse(environment[variable]).hostname in services
    known = {name.upper() for name in Settings.model_fields} | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert set(environment) <= known
    assert Settings.from_environment(environment).audit_queue_url == environment["AUDIT_QUEUE_URL"]
