"""The OpenAPI document tells the truth: schemathesis, against `make dev`, finds no server error and no status
code, content type, header or body the document does not describe. Bounded: ten examples an operation, a fixed
seed, a request timeout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request

import pytest

from infra import ROOT
from infra.commands.dev_stack import dev_stack

ADMIN = ("schemathesis-admin@example.com", "schemathesis password 1")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
UNLIMITED = "100000/60"  # limits would turn most examples into 429s: they are tested elsewhere


def _token(api: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        api + "/v1/auth/login",
        data=json.dumps({"email": ADMIN[0], "password": ADMIN[1]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(json.loads(response.read())["access_token"])


@pytest.mark.timeout(900)
def test_schemathesis_finds_nothing_the_openapi_document_does_not_describe() -> None:
    schemathesis = shutil.which("st", path=str(ROOT / ".venv" / "bin"))
    assert schemathesis, "schemathesis is pinned in requirements-dev.txt"
    limits = {
        f"RATE_LIMIT_{name}": UNLIMITED
        # LOGIN_FAILURES and LOGIN_ACCOUNT_FAILURES: a password change's wrong current password counts as a failed
        # sign-in, and the second run signs in again.
        for name in (
            "USER",
            "WRITES",
            "ANONYMOUS",
            "REGISTER",
            "REFRESH",
            "LOGIN",
            "LOGIN_FAILURES",
            "LOGIN_ACCOUNT_FAILURES",
            "EXTERNAL",
        )
    }
    with dev_stack(*ADMIN, **limits) as stack:
        api = stack.api
        # Logout revokes the token the other operations use: it runs last, on its own.
        for selection in (["--exclude-path", "/v1/auth/logout"], ["--include-path", "/v1/auth/logout"]):
            command = [
                schemathesis,
                "run",
                f"{api}/openapi.json",
                "--header",
                f"Authorization: Bearer {_token(api)}",
                "--checks",
                CHECKS + ",response_headers_conformance",
                *selection,
                "--max-examples",
                "10",
                "--seed",
                "1",
                "--request-timeout",
                "10",
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
            assert result.returncode == 0, result.stdout[-6000:]
            assert re.search(r"\b[1-9]\d* generated, [1-9]\d* passed\b", result.stdout), result.stdout[-2000:]
