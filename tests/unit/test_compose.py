"""docker-compose.yml and infra/sam-local-env.json, checked without an engine: Compose v2's own reading of the
file (`docker compose config`), and agreement with template.yaml on every table, queue and variable."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from infra.aws.template import function_environment, load_template, queue_definitions, queue_env_vars, table_env_vars
from infra.commands.import_roots import import_roots
from infra.containers.compose import Compose
from infra.containers.engine import compose_binary
from infra.containers.images import STANDINS, compose_images
from infra.containers.sam_local import env_vars_file
from watchlist_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def sam_local_environment() -> dict[str, str]:
    variables: dict[str, str] = json.loads((ROOT / "infra" / "sam-local-env.json").read_text())["Parameters"]
    return variables


def compose_config(*files: Path, environment: dict[str, str] | None = None) -> dict[str, Any]:
    """`docker compose config`: Compose v2's own reading of the files (no engine needed)."""
    arguments = [argument for path in files for argument in ("-f", str(path))]
    command = [compose_binary(), "--project-directory", str(ROOT), *arguments, "config", "--format", "json"]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_docker_compose_reads_the_file_with_the_real_images_by_default() -> None:
    config = compose_config(ROOT / "docker-compose.yml", environment={"PATH": "/usr/bin:/bin"})
    assert config["name"] == "watchlist"  # from .env: Compose v1 refuses a top-level `name`
    images = {name: service["image"] for name, service in config["services"].items()}
    assert images == {
        "api": "watchlist-local/api",
        "frontend": "watchlist-local/frontend",
        "dynamodb": "amazon/dynamodb-local:2.5.4",
        "redis": "redis:7.2-alpine",
        "sqs": "softwaremill/elasticmq-native:1.6.9",
    }  # `docker compose up` alone; the bootstrap (sam-local), GitHub stub and Redis Cluster are profiles
    for built in ("api", "frontend"):
        assert config["services"][built]["build"]["args"] == {"PYTHON_IMAGE": "python:3.13-slim"}
    assert set(compose_images()) == {"DYNAMODB_IMAGE", "REDIS_IMAGE", "SQS_IMAGE", "PYTHON_IMAGE"}
    assert "name" not in compose()


def test_docker_compose_reads_the_stand_in_overrides() -> None:
    overrides = [STANDINS / "compose.dynamodb.yml", STANDINS / "compose.sqs.yml"]
    environment = {"PATH": "/usr/bin:/bin", "DYNAMODB_IMAGE": "stand-in:1", "SQS_IMAGE": "stand-in:1"}
    services = compose_config(ROOT / "docker-compose.yml", *overrides, environment=environment)["services"]
    assert (services["dynamodb"]["image"], services["dynamodb"]["command"]) == ("stand-in:1", ["-p", "8000"])
    assert (services["sqs"]["image"], services["sqs"]["command"]) == ("stand-in:1", ["-p", "9324"])
    assert services["sqs"]["environment"]["MOTO_ACCOUNT_ID"] == "000000000000"  # ElasticMQ's, in queue URLs


def test_the_bootstrap_creates_the_templates_tables_and_queues_in_the_compose_services() -> None:
    services = compose()["services"]
    bootstrap = services["bootstrap"]
    script = " ".join(bootstrap["command"])
    assert "python -m infra.aws.bootstrap tables" in script
    assert "python -m infra.aws.bootstrap queues" in script
    for variable, service in (("DYNAMODB_ENDPOINT_URL", "dynamodb"), ("SQS_ENDPOINT_URL", "sqs")):
        assert urlparse(bootstrap["environment"][variable]).hostname == service
        assert service in bootstrap["depends_on"]
    assert bootstrap["profiles"] == ["sam-local"]
    assert all(service["networks"] == ["watchlist"] for service in services.values())


def test_sam_local_starts_the_services_it_needs_and_not_the_api_of_docker_compose_up() -> None:
    sam_local = Compose(environment={}, overrides=[], profiles=["sam-local", "redis-cluster"])
    # Named on `up`: else Compose would start the default services, `api` and `frontend`, beside sam local.
    assert sam_local.services() == [
        "dynamodb",
        "redis",
        "sqs",
        "redis-node-1",
        "redis-node-2",
        "redis-node-3",
        "redis-cluster",
        "bootstrap",
    ]


REDIS_PORT = 6379


def container_port(service: dict[str, Any]) -> int:
    return int(service["ports"][0].rsplit(":", 1)[1])


def test_the_api_container_reaches_each_service_on_its_container_port() -> None:
    services = compose()["services"]
    api = services["api"]
    environment = api["environment"]
    for variable, service, port in (
        ("DYNAMODB_ENDPOINT_URL", "dynamodb", container_port(services["dynamodb"])),
        ("SQS_ENDPOINT_URL", "sqs", container_port(services["sqs"])),
        ("REDIS_URL", "redis", REDIS_PORT),  # not published: see the test below
    ):
        address = urlparse(environment[variable])
        assert (address.hostname, address.port) == (service, port)
        assert service in api["depends_on"]
    # What make dev reads beside the settings: the URL it prints, the first admin.
    assert set(environment) <= {name.upper() for name in Settings.model_fields} | {
        "PUBLIC_URL",
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
        "LOCAL_STATE_DIR",
    }
    # The front end calls the API over the network, on the port the API's make dev serves (the Dockerfile's PORT).
    dockerfile = (ROOT / api["build"]["dockerfile"]).read_text()
    assert re.search(r"\bPORT=(\d+)", dockerfile)[1] == str(container_port(api))  # type: ignore[index]
    assert services["frontend"]["environment"]["WATCHLIST_API_URL"] == f"http://api:{container_port(api)}"


def test_ports_are_published_on_the_loopback_only_and_redis_not_at_all() -> None:
    """Anyone on the developer's network could otherwise call the API, or rewrite Redis (it has no password)."""
    services = compose()["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert set(published) == {"api", "frontend", "dynamodb", "sqs"}
    for ports in published.values():
        assert all(port.startswith("${BIND_ADDRESS:-127.0.0.1}:") for port in ports), ports
    assert "ports" not in services["redis"]


def test_the_api_keeps_its_generated_signing_key_in_a_volume_of_its_own() -> None:
    api = compose()["services"]["api"]
    state = api["environment"]["LOCAL_STATE_DIR"]
    assert any(volume.split(":")[1] == state and not volume.startswith(".") for volume in api["volumes"])
    assert "JWT_SECRET" not in api["environment"]


def test_the_api_image_gets_every_file_it_copies_and_imports_the_project_as_make_install_does() -> None:
    dockerfile = (ROOT / "infra" / "local" / "Dockerfile").read_text()
    copied = {source for line in dockerfile.splitlines() if line.startswith("COPY ") for source in line.split()[1:-1]}
    let_in = {line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    assert copied == let_in
    python_path = re.search(r"PYTHONPATH=(\S+)", dockerfile)[1].split(":")  # type: ignore[index]
    *declared, project = import_roots()  # the front end has its own image
    assert python_path == [f"/app/{root.relative_to(ROOT)}" for root in declared if root.name != "frontend"] + ["/app"]
    assert project == ROOT


def test_the_sam_local_env_file_names_what_the_bootstrap_creates(tmp_path: Path) -> None:
    environment = sam_local_environment()
    services = compose()["services"]
    # Table names: the bootstrap creates them under the settings' names; sam local must use the same.
    bootstrap_settings = Settings.from_environment(services["bootstrap"]["environment"])
    template = load_template()
    for variable in table_env_vars(template).values():
        assert environment[variable] == getattr(bootstrap_settings, variable.lower())
    # Queues: created under their logical ids (infra.aws.bootstrap.create_queues), dead-letter queue included.
    for logical_id, variable in queue_env_vars(template).items():
        assert urlparse(environment[variable]).path.endswith("/" + logical_id)
    assert set(queue_definitions(template)) == {
        "AuditQueue",
        "AuditDeadLetterQueue",
        "MailQueue",
        "MailDeadLetterQueue",
    }
    # Every endpoint is a compose service on the shared network, and every key is a known setting.
    for variable in ("DYNAMODB_ENDPOINT_URL", "SQS_ENDPOINT_URL", "AUDIT_QUEUE_URL", "MAIL_QUEUE_URL", "REDIS_URL"):
        assert urlparse(environment[variable]).hostname in services
    # SAM passes a value only for a variable the template declares: anything else would be silently dropped.
    declared = set(function_environment(template)).union(
        *(
            resource["Properties"].get("Environment", {}).get("Variables", {})
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
        )
    )
    # With what make sam-local adds to it: the local SES, and the front end the mailed links point at.
    written = json.loads(env_vars_file(tmp_path, github_stub=True, ses_endpoint_url="http://172.18.0.1:1").read_text())[
        "Parameters"
    ]
    assert set(environment) < set(written) <= declared
    assert set(written) <= {name.upper() for name in Settings.model_fields}
    assert Settings.from_environment(environment).audit_queue_url == environment["AUDIT_QUEUE_URL"]
