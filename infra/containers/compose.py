"""`docker compose` on this repository's compose file: what `make sam-local`, `docker compose up`'s test and the
preparation of their images (prepare.py) share. Standard library, PyYAML and the engine's helpers only: the images
are prepared in a venv of their own, before the development venv exists (infra/containers/requirements.txt).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra import ROOT
from infra.containers.engine import compose_binary

SAM_LOCAL_SERVICES = ("dynamodb", "redis", "sqs")
# How long a one-shot service (the bootstrap, the cluster's creation) may take on a busy machine.
ONE_SHOT_SECONDS = 300


@dataclass(frozen=True)
class Compose:
    """`docker compose` on this repository's compose file, with the stand-ins' overrides and chosen profiles."""

    environment: dict[str, str]
    overrides: list[Path]
    profiles: list[str]

    def command(self, *arguments: str) -> list[str]:
        files = [argument for path in [ROOT / "docker-compose.yml", *self.overrides] for argument in ("-f", str(path))]
        profiles = [argument for profile in self.profiles for argument in ("--profile", profile)]
        return [compose_binary(), "--project-directory", str(ROOT), *files, *profiles, *arguments]

    def run(self, *arguments: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            self.command(*arguments),
            env=self.environment,
            stdout=subprocess.PIPE if capture else None,
            text=True,
            check=check,
        )

    def published(self, service: str, port: int) -> str:
        """http://127.0.0.1:<host port> of a service's container port."""
        address = self.run("port", service, str(port), capture=True).stdout.strip()
        return f"http://127.0.0.1:{address.rsplit(':', 1)[1]}"

    def services(self) -> list[str]:
        """The services sam local needs (not `api` and `frontend`, which serve `docker compose up` alone) and
        those of the chosen profiles."""
        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        return [
            *SAM_LOCAL_SERVICES,
            *(name for name, service in services.items() if set(service.get("profiles", [])) & set(self.profiles)),
        ]

    def up(self) -> None:
        """Every service started, and the one-shot ones finished (the tables and queues exist; the cluster is
        formed)."""
        self.run("up", "--detach", "--quiet-pull", *self.services())
        for one_shot in ("bootstrap", *(["redis-cluster"] if "redis-cluster" in self.profiles else [])):
            exit_code = self.exit_code(one_shot)
            if exit_code:
                self.run("logs", one_shot)
                raise SystemExit(f"the compose {one_shot} failed with exit code {exit_code}")

    def exit_code(self, service: str) -> int:
        """The exit code of a one-shot service's container, once it has exited (`docker compose wait` finds no
        container that has exited already)."""
        deadline = time.monotonic() + ONE_SHOT_SECONDS
        while time.monotonic() < deadline:
            listed = self.run("ps", "--all", "--format", "{{.State}} {{.ExitCode}}", service, capture=True)
            state, _, code = listed.stdout.strip().partition(" ")
            if state == "exited":
                return int(code)
            time.sleep(0.5)
        raise SystemExit(f"the compose {service} did not finish within {ONE_SHOT_SECONDS} s")

    def down(self) -> None:
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "5")
