"""An arm64 Debian root on this x86_64 machine, where the arm64 build's handlers run under emulation.

debootstrap's first stage (`--foreign`) fetches Debian trixie's python3.13 and everything it needs, for arm64; the
packages are unpacked on the host with dpkg-deb, so nothing is configured under emulation (the second stage would
run every package's scripts through qemu: minutes). The static qemu-aarch64 binary is copied into the root and runs
its aarch64 programs there, under chroot, without the kernel's binfmt_misc.

A built function goes in as Lambda lays it out: its code at /var/task, every layer's `python/` merged at
/opt/python; its handler (and those of the functions that deploy the same code and layers) is imported by
/var/runtime/invoke_events.py (standins/), on the root's Python alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from infra.containers.engine import DEBOOTSTRAP_PACKAGE, MACHINE_STATE, install_missing, succeeds
from infra.containers.images import DEBIAN_MIRROR, STANDINS

SUITE = "trixie"  # Python 3.13, the functions' runtime
PACKAGES = "python3.13"
QEMU_PACKAGE = "qemu-user-static=1:7.2+dfsg-7+deb12u18+b3"
QEMU = Path("/usr/bin/qemu-aarch64-static")
ROOTS = MACHINE_STATE / "arm64-root"  # per machine, like the images: one root a recipe (arm64_root)
PYTHON = "/usr/bin/python3.13"


def arm64_root() -> Path:
    """The root, built once per machine for each suite, mirror and package list, then reused."""
    digest = hashlib.sha256(f"{SUITE} {DEBIAN_MIRROR} {PACKAGES}".encode()).hexdigest()[:12]
    root = ROOTS / f"{SUITE}-{digest}"
    if (root / PYTHON.lstrip("/")).exists():
        return root
    install_missing({"debootstrap": DEBOOTSTRAP_PACKAGE, str(QEMU): QEMU_PACKAGE})
    ROOTS.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{SUITE}-", dir=ROOTS))
    command = ["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase", f"--include={PACKAGES}"]
    if not succeeds([*command, SUITE, str(building), DEBIAN_MIRROR], show_failure=True):
        raise SystemExit(f"debootstrap of an arm64 {SUITE} failed")
    for package in sorted((building / "var/cache/apt/archives").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(package), str(building)], check=True)  # noqa: S603, S607
        package.unlink()
    shutil.copy2(QEMU, building / "usr/bin" / QEMU.name)
    building.rename(root)
    return root


def install_function(root: Path, code: Path, layers: list[Path]) -> None:
    """A built function's `code` directory at /var/task and its `layers`' python/ directories merged at
    /opt/python, as Lambda extracts them."""
    for target, sources in (("var/task", [code]), ("opt/python", layers)):
        shutil.rmtree(root / target, ignore_errors=True)
        for source in sources:
            shutil.copytree(source, root / target, dirs_exist_ok=True)
    (root / "var/runtime").mkdir(parents=True, exist_ok=True)
    shutil.copy2(STANDINS / "invoke_events.py", root / "var/runtime/invoke_events.py")


def invoke(
    root: Path,
    invocations: list[tuple[str, dict[str, Any]]],
    environment: dict[str, str],
    load_every_extension: bool = False,
) -> dict[str, Any]:
    """Each `(handler, event)` invocation, in turn, by the installed function's code inside the root (then, if asked,
    every compiled module of the layers imported): the runner's report."""
    invocations_file = root / "var/runtime/invocations.json"
    invocations_file.write_text(json.dumps([{"handler": handler, "event": event} for handler, event in invocations]))
    command = [
        shutil.which("chroot") or "/usr/sbin/chroot",  # found on this machine's PATH, not the root's
        str(root),
        f"/usr/bin/{QEMU.name}",
        PYTHON,
        "-S",
        "/var/runtime/invoke_events.py",
        "/var/runtime/invocations.json",
        *(["--load-every-extension"] if load_every_extension else []),
    ]
    variables = environment | {"PYTHONPATH": "/var/task:/opt/python", "PYTHONNOUSERSITE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, env=variables, capture_output=True, text=True, check=False, timeout=900)  # noqa: S603
    if result.returncode:
        handlers = sorted({handler for handler, _ in invocations})
        raise AssertionError(f"{', '.join(handlers)} failed in the arm64 root:\n{result.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
