"""`make postman`: the Postman collection run by newman against a `make dev` stack this script starts and stops.

python -m infra.commands.postman    (after `npm ci`; the Makefile does both)

The collection's "Account mail" folder reads the mail it causes from the local mailbox (`GET /_local/mailbox`), which
`make dev`, `make sam-local` and `docker compose up` serve; where none answers (a deployed API) it skips the requests
that need one, unless the run requires it, as this command's does.
"""

from __future__ import annotations

import secrets
import subprocess

from infra import ROOT
from infra.commands.dev_stack import dev_stack

POSTMAN = ROOT / "postman"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"
COLLECTION = POSTMAN / "watchlist.postman_collection.json"
ADMIN_EMAIL = "postman-admin@example.com"


def newman(
    api: str,
    admin_email: str,
    admin_password: str,
    *,
    own_stack: bool = False,
    mailbox_required: bool = False,
    mail_wait_seconds: int = 10,
) -> int:
    """Runs the collection against `api` (as the admin given); newman's exit code. `own_stack`: a stack started for
    this run alone, so another admin than the one given fails the run instead of skipping the request that deletes
    the last admin. A missing local mailbox fails a run that requires one (an own stack does) instead of skipping the
    requests that read mail; each mail is waited for at most `mail_wait_seconds`."""
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        "--environment",
        str(POSTMAN / "local.postman_environment.json"),
        "--env-var",
        f"baseUrl={api}",
        "--env-var",
        f"adminEmail={admin_email}",
        "--env-var",
        f"adminPassword={admin_password}",
        "--env-var",
        f"mailboxRequired={'yes' if own_stack or mailbox_required else 'no'}",
        "--env-var",
        f"mailWaitSeconds={mail_wait_seconds}",
        "--env-var",
        f"soleAdminRequired={'yes' if own_stack else 'no'}",
        "--bail",
        "failure",
    ]
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603


def main() -> int:
    password = secrets.token_urlsafe(16)
    with dev_stack(ADMIN_EMAIL, password) as stack:
        return newman(stack.api, ADMIN_EMAIL, password, own_stack=True)


if __name__ == "__main__":
    raise SystemExit(main())
