"""`make sam-local`: the API served by `sam local start-api`, its functions in Lambda containers, with the
Docker Compose services; what docs/sam-local.md has a user type, in one command.

In order: a Docker engine (the running one, else a private one: engine.py); the images (the real ones, else
stand-ins built offline: images.py); `docker compose up` (DynamoDB Local, Redis, ElasticMQ, and the bootstrap
that creates the template's tables and queues); the first admin (ADMIN_EMAIL / ADMIN_PASSWORD, else generated);
a moto server on this machine serving SES to the containers (at their network's gateway), keeping what it sent in
the local mailbox; `sam local start-lambda` for the audit and mail functions, fed by an audit worker on this
machine (the queue pollers and the outbox relay); `sam local start-api`, behind a front door on PORT (default 3000)
that serves the mailbox at /_local/mailbox and passes every other request on. Each mail sent is printed as a line,
as make dev does. Ready when GET /health answers 200. Stops everything it started on SIGINT or SIGTERM: SAM and
its containers, the compose services, the private engine.

GITHUB_STUB=1: the GitHub stand-in as a compose service, the API pointed at it. REDIS_CLUSTER=1: the functions on
a Redis Cluster of three primaries (compose services too) instead of the single Redis server. FRONTEND=1: the
Streamlit front end on this machine (FRONTEND_PORT, default 8501). LAMBDA_PORT: the port of `sam local
start-lambda` (default: a free one). DYNAMODB_PORT, SQS_PORT: where the compose services are
published (see docker-compose.yml). Run it after `sam build` (the Makefile does).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from infra import ROOT
from infra.containers.compose import Compose
from infra.containers.engine import docker_engine, say
from infra.containers.images import Resolved, resolve
from infra.local.frontend import streamlit
from infra.local.gateway import make_proxy
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT, verify_mail_sender
from infra.local.mailbox import MAILBOX_PATH, MAILBOX_VARIABLE, printing
from infra.local.moto_server import MotoServer
from infra.local.servers import child_process, free_port, wait_until_answering
from infra.local.signing_key import stack_signing_key

BUILD_DIR = ROOT / ".aws-sam" / "build"
ENV_VARS_FILE = ROOT / "infra" / "sam-local-env.json"
NETWORK = "watchlist"
GITHUB_STUB_URL = "http://github-stub:8080"
SINGLE_REDIS_URL = "redis://redis:6379/0"
CLUSTER_REDIS_URL = "redis://redis-node-1:6379/0"  # any node: the client finds the others
READY_SECONDS = 300  # the first request creates the function's container: 20 s and more on a busy machine


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class Sam:
    """`sam local` commands on the built template, in the compose network, with the chosen Lambda image."""

    environment: dict[str, str]
    images: Resolved
    env_vars_file: Path

    def command(self, subcommand: str, *arguments: str) -> list[str]:
        image = ["--invoke-image", self.images.lambda_image] if self.images.lambda_is_standin else []
        return [
            str(ROOT / ".venv-sam" / "bin" / "sam"),
            "local",
            subcommand,
            "--template",
            str(BUILD_DIR / "template.yaml"),
            "--docker-network",
            NETWORK,
            "--env-vars",
            str(self.env_vars_file),
            "--region",
            "us-east-1",
            "--skip-pull-image",  # the image is here: pulled, or the stand-in
            *image,
            *arguments,
        ]


def env_vars_file(
    directory: Path, github_stub: bool, redis_url: str = SINGLE_REDIS_URL, ses_endpoint_url: str = ""
) -> Path:
    """infra/sam-local-env.json, with the GitHub stand-in when asked for, the Redis to use (the template declares
    REDIS_URL, empty without the stack's own cache, for this file to set), and the local SES with the front end's
    links when there is one."""
    variables = json.loads(ENV_VARS_FILE.read_text())
    variables["Parameters"]["REDIS_URL"] = redis_url
    variables["Parameters"]["JWT_SECRET"] = stack_signing_key()
    if ses_endpoint_url:
        variables["Parameters"]["SES_ENDPOINT_URL"] = ses_endpoint_url
        variables["Parameters"]["ACCOUNT_LINKS_URL"] = frontend_url()
    if github_stub:
        variables["Parameters"]["GITHUB_API_URL"] = GITHUB_STUB_URL
    path = directory / "env-vars.json"
    path.write_text(json.dumps(variables, indent=2))
    return path


def frontend_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('FRONTEND_PORT', '8501')}"


def network_gateway(environment: dict[str, str]) -> str:
    """This machine's address on the compose network: where the function containers reach a server of ours."""
    inspected = subprocess.run(  # noqa: S603
        ["docker", "network", "inspect", NETWORK, "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}"],  # noqa: S607
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return inspected.stdout.split()[0]


def host_environment(compose: Compose, ses_endpoint_url: str) -> dict[str, str]:
    """What the host-side tools (first admin, audit worker, the mail sender's verification) need to reach the
    compose services and the local SES."""
    variables = json.loads(ENV_VARS_FILE.read_text())["Parameters"]
    shared = ("AUDIT_QUEUE_URL", "MAIL_QUEUE_URL", "MAIL_SENDER")
    return {
        **{name: value for name, value in variables.items() if name.endswith("_TABLE") or name in shared},
        **LOCAL_AWS_ENVIRONMENT,
        "DYNAMODB_ENDPOINT_URL": compose.published("dynamodb", 8000),
        "SQS_ENDPOINT_URL": compose.published("sqs", 9324),
        "SES_ENDPOINT_URL": ses_endpoint_url,
        "AUDIT_OUTBOX_GRACE_SECONDS": "10",
        "JWT_SECRET": stack_signing_key(),
    }


def make_clients(api: str) -> None:
    """One readiness check, whatever it answers: it makes the function's DynamoDB, SQS and Redis clients, which in a
    container on a busy machine takes longer than the check's budget (1.5 s), so that a user's first check does not
    report a healthy stack as failing."""
    try:
        urllib.request.urlopen(api + "/v1/health/detailed", timeout=READY_SECONDS).close()  # noqa: S310 (loopback)
    except urllib.error.HTTPError as answer:  # a 503 made the clients too
        answer.close()


def remove_function_containers(environment: dict[str, str]) -> None:
    """SAM's function containers on our network that SAM left behind (it was killed, or failed to stop them)."""
    listed = subprocess.run(  # noqa: S603
        ["docker", "ps", "-aq", "--filter", "label=sam.cli.container.type=lambda", "--filter", f"network={NETWORK}"],  # noqa: S607
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if listed:
        subprocess.run(["docker", "rm", "--force", *listed], env=environment, capture_output=True, check=False)  # noqa: S603, S607


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    github_stub = bool(os.environ.get("GITHUB_STUB"))
    redis_cluster = bool(os.environ.get("REDIS_CLUSTER"))
    wanted = {"sam-local": True, "github-stub": github_stub, "redis-cluster": redis_cluster}
    profiles = [name for name, wanted_now in wanted.items() if wanted_now]
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    with ExitStack() as stack:
        engine = stack.enter_context(docker_engine())
        images = resolve(engine)
        compose = Compose(engine | images.compose_environment, images.compose_overrides, profiles)
        stack.callback(compose.down)
        redis = "a Redis Cluster of three primaries" if redis_cluster else "Redis"
        say(f"docker compose up: DynamoDB, {redis}, SQS, and the bootstrap of the template's tables and queues")
        compose.up()
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sam-local-")))
        # SES for the functions' containers: a moto server of this machine's, on the compose network's gateway,
        # keeping what it sent in this run's mailbox.
        mailbox_file = directory / "mailbox.jsonl"
        os.environ[MAILBOX_VARIABLE] = str(mailbox_file)
        ses = stack.enter_context(MotoServer(host=network_gateway(engine)))
        os.environ.update(host_environment(compose, ses.endpoint_url))
        from infra.aws.bootstrap import first_admin  # after the environment above: the settings are read once

        print(first_admin(), flush=True)
        verify_mail_sender()

        redis_url = CLUSTER_REDIS_URL if redis_cluster else SINGLE_REDIS_URL
        sam = Sam(engine, images, env_vars_file(directory, github_stub, redis_url, ses.endpoint_url))
        stack.callback(remove_function_containers, engine)
        lambda_endpoint = f"http://127.0.0.1:{os.environ.get('LAMBDA_PORT') or free_port()}"
        functions = stack.enter_context(
            child_process(
                sam.command("start-lambda", "--port", lambda_endpoint.rsplit(":", 1)[1], "--warm-containers", "LAZY"),
                env=engine | {"SAM_CLI_TELEMETRY": "0"},
                grace_seconds=60,
            )
        )
        start_api_port = free_port()
        api = stack.enter_context(
            child_process(
                sam.command(
                    "start-api", "--host", "127.0.0.1", "--port", str(start_api_port), "--warm-containers", "LAZY"
                ),
                env=engine | {"SAM_CLI_TELEMETRY": "0"},
                grace_seconds=60,
            )
        )
        start_api = f"http://127.0.0.1:{start_api_port}"
        say(f"waiting for {start_api}/health (the first request starts the function's container)")
        wait_until_answering(start_api + "/health", [functions, api], READY_SECONDS)
        make_clients(start_api)
        front_door = make_proxy(start_api, "127.0.0.1", port, mailbox_file)
        stack.callback(front_door.server_close)
        threading.Thread(target=front_door.serve_forever, daemon=True).start()
        stack.callback(front_door.shutdown)
        base = f"http://127.0.0.1:{port}"
        worker = stack.enter_context(
            child_process(
                [sys.executable, "-m", "infra.local.audit_worker"],
                env=os.environ | {"LAMBDA_ENDPOINT_URL": lambda_endpoint},
            )
        )
        print(f"audit worker (queue pollers and outbox relay, through {lambda_endpoint}): pid {worker.pid}", flush=True)
        print(
            f"mail: SES on {ses.endpoint_url} (moto); links to {frontend_url()}; the mail function's container starts"
            " on the first mail",
            flush=True,
        )
        stack.enter_context(printing(mailbox_file, _print))
        print(
            f"API (sam local start-api): {base}   docs: {base}/docs   health: {base}/health   "
            f"mailbox: {base}{MAILBOX_PATH}   ready in {time.monotonic() - started:.0f}s",
            flush=True,
        )
        if github_stub:
            print(f"GitHub stub: {GITHUB_STUB_URL} on the compose network", flush=True)
        if os.environ.get("FRONTEND"):
            frontend_port = os.environ.get("FRONTEND_PORT", "8501")
            stack.enter_context(streamlit(base, "127.0.0.1", frontend_port))
            print(f"front end (Streamlit): http://127.0.0.1:{frontend_port}", flush=True)
        while all(process.poll() is None for process in (functions, api, worker)):
            time.sleep(1)
        say("a child process exited; stopping")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
