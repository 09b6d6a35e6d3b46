"""`python -m infra.commands.openapi_check [BASE]` (`make openapi-check BASE=<git ref>`): does the working tree's
OpenAPI document break a client of BASE's? BASE is checked out in a temporary git worktree; each tree's document
is generated from its own code (`create_app().openapi()`, as the generated-client test does) with the project's
venv, then Optic (`@useoptic/optic`, pinned in package-lock.json) compares them offline with its breaking-changes
rules: a removed operation, response or property, a new required request field, a narrowed type fail; an added
operation or optional field passes. Exit status: Optic's (0: no breaking change).

Without BASE: the last release (the newest `v*` tag reachable from HEAD), else `main` (`origin/main` in a CI
checkout). The pull-request workflow
runs the same command (.github/workflows/pull-request.yml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra import ROOT

OPTIC = ROOT / "node_modules" / ".bin" / "optic"
RELEASE_TAGS = "v*"
DEFAULT_BASES = ("main", "origin/main")  # a clone's main, else a CI checkout's remote branch
GENERATE = (
    "import json, sys\n"
    "from watchlist_api.app import create_app\n"
    "json.dump(create_app().openapi(), sys.stdout, indent=1, sort_keys=True)\n"
)


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(  # noqa: S603 (our own command line)
        ["git", *args],  # noqa: S607 (git from the PATH, as make finds it)
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def release_base() -> str:
    """The newest release tag reachable from HEAD, else `main` (or `origin/main` where there is no local main)."""
    try:
        return git("describe", "--tags", "--abbrev=0", "--match", RELEASE_TAGS, "HEAD")
    except subprocess.CalledProcessError:
        pass
    for ref in DEFAULT_BASES:
        try:
            git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            continue
        return ref
    raise SystemExit("openapi-check: no v* tag, no main and no origin/main here: name BASE")


def import_roots(tree: Path) -> list[Path]:
    """`tree`'s import roots as its own pyproject.toml declares them (infra/commands/import_roots.py), and itself."""
    with (tree / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["tool"]["mypy"]["mypy_path"].split(":")
    return [tree / root for root in declared] + [tree]


def document(tree: Path) -> dict[str, Any]:
    """The OpenAPI document of the code in `tree`: its roots go first on the path, before the venv's own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root) for root in import_roots(tree))}
    done = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-c", GENERATE], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"openapi-check: no OpenAPI document from {tree}:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A detached checkout of `ref`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="openapi-base-") as parent:
        tree = Path(parent) / "tree"
        git("worktree", "add", "--detach", "--quiet", str(tree), ref)
        try:
            yield tree
        finally:
            git("worktree", "remove", "--force", str(tree))


def check(base: dict[str, Any], head: dict[str, Any], *, base_name: str = "base") -> int:
    """Optic's breaking-change check of `head` against `base`; its exit status, its report on stdout."""
    if not OPTIC.exists():
        raise SystemExit(f"openapi-check: {OPTIC.relative_to(ROOT)} is missing: make node_modules/.installed")
    with tempfile.TemporaryDirectory(prefix="openapi-check-") as directory:
        base_path = Path(directory) / f"{base_name.replace('/', '-')}.openapi.json"
        head_path = Path(directory) / "head.openapi.json"
        base_path.write_text(json.dumps(base))
        head_path.write_text(json.dumps(head))
        env = {**os.environ, "OPTIC_TELEMETRY_LEVEL": "off"}  # offline: no usage data, no error reports
        return subprocess.run(  # noqa: S603 (our own command line)
            [OPTIC, "diff", base_path.name, head_path.name, "--check"], cwd=directory, env=env, check=False
        ).returncode


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    base_ref = argv[0] if argv and argv[0] else release_base()
    print(f"openapi-check: the working tree's OpenAPI document against {base_ref}'s", flush=True)
    with worktree(base_ref) as tree:
        base = document(tree)
    return check(base, document(ROOT), base_name=base_ref)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
