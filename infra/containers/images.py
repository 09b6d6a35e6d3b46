"""The images `make sam-local` runs: the real ones when they can be pulled, else stand-ins built here offline.

Real first: AWS's Lambda Python image for SAM, and the images docker-compose.yml names (DynamoDB Local, Redis,
ElasticMQ, python:3.13-slim). Where a pull fails (a machine with no Docker Hub or public.ecr.aws), each missing
image gets a stand-in built without any registry: a Debian base from debootstrap, this machine's CPython,
wheels that pip fetches on the host. Stand-ins carry their own names (`watchlist-standin/...`), are never
pushed, and are announced loudly. Their tags hash their recipe, so a changed recipe builds anew.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from infra import ROOT
from infra.aws.template import load_template, parameter_value
from infra.containers.engine import DEBOOTSTRAP_PACKAGE, install_missing, say, succeeds

STANDINS = Path(__file__).resolve().parent / "standins"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What CPython's extension modules link against, and Redis for the Redis stand-in.
BASE_PACKAGES = (
    "ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,"
    "libuuid1,libgdbm6,libexpat1,redis-server"
)
# Wheels the base image can run: every manylinux tag up to its glibc, 2.36 (Debian bookworm).
_MANYLINUX_PLATFORMS = [f"--platform=manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)]
_COMPOSE_IMAGE = re.compile(r"^\$\{(?P<variable>[A-Z_]+):-(?P<default>[^}]+)\}$")


def loud(message: str) -> None:
    line = "!" * 100
    print(f"{line}\n!! {message}\n{line}", file=sys.stderr, flush=True)


def docker(*arguments: str, environment: dict[str, str]) -> bool:
    """Runs `docker ARGUMENTS` quietly; True when it succeeded (its output is shown when it did not)."""
    return succeeds(["docker", *arguments], environment, show_failure=True)


def have_image(name: str, environment: dict[str, str]) -> bool:
    return succeeds(["docker", "image", "inspect", name], environment)


def pull(name: str, environment: dict[str, str]) -> bool:
    """The image is here, or was pulled now."""
    return have_image(name, environment) or succeeds(["docker", "pull", "--quiet", name], environment)


def runtime_version() -> str:
    """The functions' Python, "3.13" for the template's python3.13."""
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    return runtime.removeprefix("python")  # type: ignore[no-any-return]


def lambda_image() -> str:
    """The image SAM CLI runs the template's functions in (runtime and, by default, architecture from the template)."""
    template = load_template()
    architecture = parameter_value(template, template["Globals"]["Function"]["Architectures"][0])
    return f"public.ecr.aws/lambda/python:{runtime_version()}-{architecture}"


def compose_images() -> dict[str, str]:
    """Each overridable image of docker-compose.yml: its variable -> the real image it defaults to."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    images = {}
    for service in services.values():
        match = _COMPOSE_IMAGE.match(service.get("image", ""))
        if match:
            images[match["variable"]] = match["default"]
    return images


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else part.encode())
    return hasher.hexdigest()[:12]


def _recipe(*names: str) -> bytes:
    return b"".join((STANDINS / name).read_bytes() for name in names)


def _pip_target(target: Path, requirements: list[str]) -> None:
    """Linux x86_64 wheels for the runtime's CPython, installed into `target` on the host (pip reaches PyPI here)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "--only-binary=:all:"]
    command += [*_MANYLINUX_PLATFORMS, "--python-version", runtime_version(), "--implementation", "cp", *requirements]
    if not succeeds(command, show_failure=True):
        raise SystemExit(f"pip could not install {requirements} for the stand-in image")


def _pins(requirements: Path) -> list[str]:
    """Every `name==version` of a requirements file and the files it includes (as constraints, flat: pip reads
    an included file of a constraints file as requirements)."""
    pins = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins += _pins(requirements.parent / line[3:].strip())
        elif "==" in line:
            pins.append(line)
    return pins


def _host_python(target: Path) -> None:
    """This machine's CPython (its prefix, without site-packages and the test suite), relocated to `target`: the
    runtime's version, which the Makefile's venv is made with."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != runtime_version():
        raise SystemExit(
            f"the stand-in Lambda image needs CPython {runtime_version()} (the template's runtime) on this machine, "
            f"not {sys.version.split()[0]}"
        )
    prefix = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix}))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (target / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / version, target / "bin" / version)
    (target / "lib").mkdir()
    for library in (prefix / "lib").glob("libpython*.so*"):
        shutil.copy2(library, target / "lib" / library.name, follow_symlinks=False)
    skipped = shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter", "turtledemo", "*.exe")
    shutil.copytree(stdlib, target / "lib" / version, ignore=skipped, symlinks=True)
    (target / "lib" / version / "site-packages").mkdir()


@dataclass
class StandIns:
    """Builds the stand-in images on demand, each once, reusing one already built from the same recipe."""

    environment: dict[str, str]
    built: set[str] = field(default_factory=set)

    def _once(self, tag: str, build: Callable[[], None]) -> str:
        if tag not in self.built and not have_image(tag, self.environment):
            build()
        self.built.add(tag)
        return tag

    def _build(self, name: str, recipe: str, dockerfile: str, fill: Callable[[Path], None], **arguments: str) -> str:
        """An image from `dockerfile`, its context filled by `fill`; `recipe` is what else its tag must hash."""
        tag = f"watchlist-standin/{name}:{_digest(recipe, _recipe(dockerfile), *arguments.values())}"

        def build() -> None:
            say(f"building the stand-in image {tag} (offline)")
            with tempfile.TemporaryDirectory(prefix=f"standin-{name}-") as directory:
                context = Path(directory)
                shutil.copy2(STANDINS / dockerfile, context / "Dockerfile")
                fill(context)
                build_arguments = [f"--build-arg={key}={value}" for key, value in arguments.items()]
                if not docker("build", *build_arguments, "--tag", tag, str(context), environment=self.environment):
                    raise SystemExit(f"building {tag} failed")

        return self._once(tag, build)

    def base(self) -> str:
        tag = f"watchlist-standin/debian:{DEBIAN_SUITE}-{_digest(DEBIAN_SUITE, DEBIAN_MIRROR, BASE_PACKAGES)}"

        def build() -> None:
            say(f"building the stand-in base image {tag}: debootstrap {DEBIAN_SUITE} from {DEBIAN_MIRROR}")
            install_missing({"debootstrap": DEBOOTSTRAP_PACKAGE})
            with tempfile.TemporaryDirectory(prefix="standin-rootfs-") as directory:
                rootfs = Path(directory) / "rootfs"
                debootstrap = ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}"]
                if not succeeds([*debootstrap, DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR], show_failure=True):
                    raise SystemExit("debootstrap failed")
                for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                    for entry in (rootfs / cache).glob("*"):
                        if entry.is_file():
                            entry.unlink()
                tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)  # noqa: S603, S607
                imported = subprocess.run(  # noqa: S603
                    ["docker", "import", "-", tag],  # noqa: S607
                    stdin=tar.stdout,
                    env=self.environment,
                    stdout=subprocess.DEVNULL,
                    check=False,
                )
                if tar.wait() or imported.returncode:
                    raise SystemExit(f"importing {tag} failed")

        return self._once(tag, build)

    def python(self) -> str:
        def fill(context: Path) -> None:
            _host_python(context / "python")
            shutil.copy2("/etc/ssl/certs/ca-certificates.crt", context / "ca-certificates.crt")

        return self._build(
            "python", sys.version, "python.Dockerfile", fill, BASE_IMAGE=self.base(), PYTHON_VERSION=runtime_version()
        )

    def lambda_python(self) -> str:
        def fill(context: Path) -> None:
            runtime = context / "runtime"
            _pip_target(runtime, ["--requirement", str(STANDINS / "lambda-runtime.txt")])
            bootstrap = (STANDINS / "lambda-bootstrap").read_text().replace("@PYTHON_VERSION@", runtime_version())
            (runtime / "bootstrap").write_text(bootstrap)
            shutil.copy2(STANDINS / "lambda-entrypoint.sh", context / "lambda-entrypoint.sh")

        recipe = _recipe("lambda-bootstrap", "lambda-entrypoint.sh", "lambda-runtime.txt").decode()
        return self._build("lambda-python", recipe, "lambda-python.Dockerfile", fill, PYTHON_IMAGE=self.python())

    def moto(self) -> str:
        """moto at the version, and with the dependencies, the tests use: the development pins."""
        pins = _pins(ROOT / "requirements-dev.txt")
        requirement = next((pin.replace("moto==", "moto[server]==") for pin in pins if pin.startswith("moto==")), None)
        if requirement is None:
            raise SystemExit("moto is not pinned in requirements-dev.txt")

        def fill(context: Path) -> None:
            constraints = context / "constraints.txt"
            constraints.write_text("\n".join(pins))
            _pip_target(context / "packages", [requirement, "--constraint", str(constraints)])
            constraints.unlink()

        return self._build("moto", "\n".join(pins), "moto.Dockerfile", fill, PYTHON_IMAGE=self.python())

    def redis(self) -> str:
        return self._build("redis", "", "redis.Dockerfile", lambda context: None, BASE_IMAGE=self.base())


@dataclass(frozen=True)
class Resolved:
    """What to run: the Lambda image for SAM, the compose variables to set, the compose files stand-ins add."""

    lambda_image: str
    lambda_is_standin: bool
    compose_environment: dict[str, str]
    compose_overrides: list[Path]


# Compose services whose stand-in is other software (moto): an override file sets its command; the others'
# stand-ins take the real image's command unchanged.
_OVERRIDES = {"DYNAMODB_IMAGE": "compose.dynamodb.yml", "SQS_IMAGE": "compose.sqs.yml"}


def resolve(environment: dict[str, str]) -> Resolved:
    """Pull every real image; build a stand-in for each that cannot be had, and say so."""
    standins = StandIns(environment)
    builders = {
        "DYNAMODB_IMAGE": standins.moto,
        "SQS_IMAGE": standins.moto,
        "REDIS_IMAGE": standins.redis,
        "PYTHON_IMAGE": standins.python,
    }
    compose_environment: dict[str, str] = {}
    overrides: list[Path] = []
    missing: list[str] = []
    for variable, real in compose_images().items():
        chosen = environment.get(variable) or real
        if pull(chosen, environment):
            compose_environment[variable] = chosen
            continue
        missing.append(chosen)
        compose_environment[variable] = builders[variable]()
        if variable in _OVERRIDES:
            overrides.append(STANDINS / _OVERRIDES[variable])
    real_lambda = lambda_image()
    lambda_standin = not pull(real_lambda, environment)
    if lambda_standin:
        missing.append(real_lambda)
    chosen_lambda = standins.lambda_python() if lambda_standin else real_lambda
    if missing:
        loud(
            "STAND-IN IMAGES: these could not be pulled: "
            + ", ".join(missing)
            + ". Running stand-ins built here instead ("
            + ", ".join(sorted(tag for tag in standins.built if "/debian:" not in tag))
            + "): Debian and moto, not AWS's or the vendors' images. See docs/sam-local.md."
        )
    return Resolved(chosen_lambda, lambda_standin, compose_environment, overrides)
