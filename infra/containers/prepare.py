"""What the container tests run on, found or built before them: the images of `make sam-local` and `docker compose
up` (stand-ins where the real ones cannot be pulled, and compose's own builds), and the arm64 root of the arm64
proof. Each is kept per machine and keyed on its recipe (images.py, arm64.py), so it is built once per machine and
again only when its recipe changes. make test runs these as stages of their own beside its installs and builds.

python -m infra.containers.prepare images | arm64-root
"""

from __future__ import annotations

import os
import sys

from infra.containers.arm64 import arm64_root
from infra.containers.compose import Compose
from infra.containers.engine import docker_engine, engine_answers
from infra.containers.images import resolve


def images() -> None:
    with docker_engine() as engine:
        resolved = resolve(engine)
        environment = engine | resolved.compose_environment
        # The images compose builds itself (the API's and the front end's), as `docker compose up --build` would.
        Compose(environment, resolved.compose_overrides, profiles=[]).run("build", "--quiet")


def main(arguments: list[str]) -> int:
    if arguments not in (["images"], ["arm64-root"]):
        print("usage: python -m infra.containers.prepare images | arm64-root", file=sys.stderr)
        return 2
    # As the tests that use them: they need a Docker engine, or root to start one (arm64: root, for chroot).
    if os.geteuid() != 0 and (arguments == ["arm64-root"] or not engine_answers(dict(os.environ))):
        print(f"{arguments[0]}: skipped, as the tests that use it are here (not root)")
        return 0
    if arguments == ["images"]:
        images()
    else:
        print(f"arm64 root: {arm64_root()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
