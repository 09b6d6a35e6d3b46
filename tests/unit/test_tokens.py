import os
import subprocess
import sys

import boto3
import jwt
import pytest
from moto import mock_aws

from watchlist_core.domain import Role
from watchlist_core.errors import AuthenticationError
from watchlist_core.security.tokens import TokenSigner, checked_signing_key
from watchlist_core.settings import ConfigurationError, Settings

KEY = "k" * 40


def test_access_and_refresh_tokens_round_trip_and_are_not_interchangeable() -> None:
    settings = Settings()
    signer = TokenSigner(settings, lambda: KEY)
    access = signer.issue_access("user-1", Role.ADMIN, "session-1")
    claims = signer.verify_access(access.token)
    assert (claims.user_id, claims.role, claims.jti, claims.session_id) == (
        "user-1",
        Role.ADMIN,
        access.jti,
        "session-1",
    )
    assert claims.issued_at < claims.expires_at
    refresh = signer.issue_refresh("user-1", "session-1")
    assert signer.verify_refresh(refresh.token).session_id == "session-1"
    with pytest.raises(AuthenticationError):
        signer.verify_access(refresh.token)
    with pytest.raises(AuthenticationError):
        signer.verify_refresh(access.token)


def test_the_signing_key_comes_from_secrets_manager_once_when_an_arn_is_configured() -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="jwt", SecretString="k" * 64)["ARN"]
        settings = Settings(
            stage="Prod", redis_url="redis://localhost", audit_queue_url="https://sqs.local/q", jwt_secret_arn=arn
        )
        assert checked_signing_key(settings) == "k" * 64


@pytest.mark.parametrize("stored", [" ", "s" * 31], ids=["blank", "short"])
def test_a_blank_or_short_secret_in_secrets_manager_is_refused_not_replaced(stored: str) -> None:
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="jwt", SecretString=stored)["ARN"]
        settings = Settings(jwt_secret_arn=arn)
        with pytest.raises(ConfigurationError, match="signing key"):
            checked_signing_key(settings)


def test_no_key_configured_is_refused_in_every_stage_local_included() -> None:
    for settings in (Settings(), Settings(stage="Prod", redis_url="redis://x", audit_queue_url="https://q")):
        with pytest.raises(ConfigurationError, match="JWT_SECRET"):
            checked_signing_key(settings)


def test_tokens_signed_with_another_key_are_refused() -> None:
    settings = Settings()
    other = TokenSigner(settings, lambda: "x" * 64).issue_access("user-1", Role.USER, "session-1")
    with pytest.raises(AuthenticationError, match="invalid"):
        TokenSigner(settings, lambda: KEY).verify_access(other.token)


@pytest.mark.parametrize("sid", [None, 42], ids=["missing", "not-a-string"])
def test_an_access_token_that_names_no_session_is_refused(sid: object) -> None:
    """Ending a session ends its access tokens: one that names none could never be ended."""
    settings = Settings()

    def key() -> str:
        return KEY

    valid = jwt.decode(
        TokenSigner(settings, key).issue_access("user-1", Role.USER, "session-1").token,
        options={"verify_signature": False},
    )
    claims = {name: value for name, value in valid.items() if name != "sid"} | ({"sid": sid} if sid else {})
    forged = jwt.encode(claims, key(), algorithm="HS256")
    with pytest.raises(AuthenticationError, match="invalid"):
        TokenSigner(settings, key).verify_access(forged)


@pytest.mark.parametrize(
    "environment",
    [
        {"STAGE": "Prod", "REDIS_URL": "redis://redis.internal:6379/0", "AUDIT_QUEUE_URL": "https://sqs.local/q"},
        {"STAGE": "local", "JWT_SECRET": ""},
    ],
    ids=["deployed-without-a-key", "local-with-an-empty-key"],
)
def test_the_api_function_fails_its_init_without_a_usable_key(environment: dict[str, str]) -> None:
    """Lambda's init is the handler module's import: it fails there, loudly, and never serves a request."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("JWT_SECRET")}
    started = subprocess.run(
        [sys.executable, "-c", "import watchlist_api.handler"],
        env=inherited | environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert "ConfigurationError: No usable token signing key" in started.stderr
