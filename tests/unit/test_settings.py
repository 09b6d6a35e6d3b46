import pytest
from pydantic import ValidationError

from watchlist_core.settings import LOCAL_JWT_SECRET, Settings


def test_local_stage_runs_with_the_default_secret() -> None:
    assert Settings(stage="local").is_local


@pytest.mark.parametrize("secret", [None, "", LOCAL_JWT_SECRET, "too-short-secret"])
def test_other_stages_refuse_a_missing_default_or_short_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(stage="Prod", jwt_secret=secret)


def test_other_stages_accept_a_long_secret_or_a_secret_arn() -> None:
    assert Settings(stage="Prod", jwt_secret="s" * 32).stage == "Prod"
    assert Settings(stage="Prod", jwt_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x").jwt_secret_arn


def test_password_hashing_cannot_be_configured_below_owasp_minimums() -> None:
    with pytest.raises(ValidationError):
        Settings(argon2_memory_kib=1024)


def test_settings_come_from_upper_case_environment_variables() -> None:
    settings = Settings.from_environment(
        {"STAGE": "Prod", "JWT_SECRET": "s" * 40, "ACCESS_TOKEN_TTL_SECONDS": "600", "UNRELATED": "x"}
    )
    assert (settings.stage, settings.access_token_ttl_seconds) == ("Prod", 600)
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "s" * 40


def test_a_malformed_environment_value_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        Settings.from_environment({"ACCESS_TOKEN_TTL_SECONDS": "soon"})
