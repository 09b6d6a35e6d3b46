"""Each local stack's own token signing key: generated once, kept beside the stack's data, so a restart keeps its
sessions; never a constant in the code, which would let anyone who read it sign tokens for any local stack."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from infra import ROOT

KEY_FILE = "jwt-signing-key"


def state_directory() -> Path:
    """Where a local stack keeps what outlives a restart: LOCAL_STATE_DIR (compose: a volume of its own), else
    .local in the checkout (make dev, make sam-local; ignored by git)."""
    return Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")


def local_signing_key(directory: Path | None = None) -> str:
    """The key in `directory`, created (readable by its owner only) if there is none. Stacks starting at once
    agree: the first to link its file wins, the others read it."""
    directory = directory or state_directory()
    path = directory / KEY_FILE
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as draft:  # created 0600
            draft.write(secrets.token_urlsafe(48))
        try:
            os.link(draft.name, path)  # atomic, and fails if another stack's key got there first
        except FileExistsError:
            pass
        finally:
            os.unlink(draft.name)
    return path.read_text().strip()


def stack_signing_key() -> str:
    """The key a local stack signs with: the user's own JWT_SECRET, else the stack's generated one."""
    return os.environ.get("JWT_SECRET") or local_signing_key()


def use_local_signing_key() -> None:
    """JWT_SECRET for this process and the ones it starts (`stack_signing_key`)."""
    os.environ["JWT_SECRET"] = stack_signing_key()
