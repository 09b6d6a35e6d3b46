import boto3
import jwt
import pytest
from moto import mock_aws

from watchlist_core.domain import Role
from watchlist_core.errors import AuthenticationError
from watchlist_core.security.tokens import TokenSigner, signing_key_loader
from watchlist_core.settings import Settings


def test_access_and_refresh_tokens_round_trip_and_are_not_interchangeable() -> None:
    settings = Settings()
    signer = TokenSigner(settings, signing_key_loader(settings))
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
        load = signing_key_loader(settings)
        assert load() == "k" * 64
    assert load() == "k" * 64  # cached: no AWS call outside the mock


def test_tokens_signed_with_another_key_are_refused() -> None:
    settings = Settings()
    other = TokenSigner(settings, lambda: "x" * 64).issue_access("user-1", Role.USER, "session-1")
    with pytest.raises(AuthenticationError, match="invalid"):
        TokenSigner(settings, signing_key_loader(settings)).verify_access(other.token)


@pytest.mark.parametrize("sid", [None, 42], ids=["missing", "not-a-string"])
def test_an_access_token_that_names_no_session_is_refused(sid: object) -> None:
    """Ending a session ends its access tokens: one that names none could never be ended."""
    settings = Settings()
    key = signing_key_loader(settings)
    valid = jwt.decode(
        TokenSigner(settings, key).issue_access("user-1", Role.USER, "session-1").token,
        options={"verify_signature": False},
    )
    claims = {name: value for name, value in valid.items() if name != "sid"} | ({"sid": sid} if sid else {})
    forged = jwt.encode(claims, key(), algorithm="HS256")
    with pytest.raises(AuthenticationError, match="invalid"):
        TokenSigner(settings, key).verify_access(forged)
