"""`make smoke URL=...`: the smoke flow (functions/hooks/watchlist_hooks/smoke.py, the one the post-traffic hook
runs) and the Postman collection's folders that need no user, read-only, by newman, against any API's base URL (a
deployed stage's `ApiUrl`, or `make dev`'s). A short report per step with timings; exit code 1 on any failure.

python -m infra.commands.smoke URL    (after `npm ci` for newman; the Makefile does both)
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from infra import ROOT
from infra.commands.postman import COLLECTION, NEWMAN
from watchlist_hooks.smoke import run_smoke

# The collection's folders whose requests are all read-only and need no user: Health (liveness, readiness). The
# others register users, sign in or need an admin; the smoke flow above covers a user's life instead.
NEWMAN_FOLDERS = ("Health",)


def newman_read_only(api: str) -> int:
    """newman's exit code for NEWMAN_FOLDERS against `api`."""
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        "--env-var",
        f"baseUrl={api.rstrip('/')}",
        *(argument for folder in NEWMAN_FOLDERS for argument in ("--folder", folder)),
        "--bail",
        "failure",
        "--reporters",
        "cli",
    ]
    try:
        return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603 (our own newman)
    except FileNotFoundError:
        print("newman is missing: run `npm ci` (make smoke does)", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make smoke", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", help="the API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/")
    url = parser.parse_args(argv).url
    report = run_smoke(url, on_step=lambda step: print("  " + step.line(), flush=True))
    print(report.summary(), flush=True)
    newman_code = newman_read_only(url)
    verdicts = {
        "smoke flow": "passed" if report.passed else "FAILED",
        f"newman ({', '.join(NEWMAN_FOLDERS)})": "passed" if newman_code == 0 else f"FAILED (exit {newman_code})",
    }
    print("make smoke: " + "; ".join(f"{part} {verdict}" for part, verdict in verdicts.items()), flush=True)
    return 0 if report.passed and newman_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
