import pytest
from pydantic import ValidationError

from watchlist_core.settings import Settings

REDIS = "redis://redis.internal:6379/0"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/watchlist-AuditQueue"
DEPLOYED = {"stage": "Prod", "redis_url": REDIS, "audit_queue_url": QUEUE}


@pytest.mark.parametrize("stage", ["local", "Prod"])
def test_a_short_secret_is_refused_in_every_stage(stage: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(**(DEPLOYED | {"stage": stage}), jwt_secret="too-short-secret")


def test_other_stages_accept_a_long_secret_or_a_secret_arn() -> None:
    assert Settings(**DEPLOYED, jwt_secret="s" * 32).stage == "Prod"
    arn = "arn:aws:secretsmanager:us-east-1:1:secret:x"
    assert Settings(**DEPLOYED, jwt_secret_arn=arn).jwt_secret_arn == arn


def test_password_hashing_cannot_be_configured_below_owasp_minimums() -> None:
    with pytest.raises(ValidationError):
        Settings(argon2_memory_kib=1024)


def test_settings_come_from_upper_case_environment_variables() -> None:
    settings = Settings.from_environment(
        {
            "STAGE": "Prod",
            "REDIS_URL": REDIS,
            "AUDIT_QUEUE_URL": QUEUE,
            "JWT_SECRET": "s" * 40,
            "ACCESS_TOKEN_TTL_SECONDS": "600",
            "UNRELATED": "x",
        }
    )
    assert (settings.stage, settings.access_token_ttl_seconds) == ("Prod", 600)
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "s" * 40


def test_a_malformed_environment_value_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        Settings.from_environment({"ACCESS_TOKEN_TTL_SECONDS": "soon"})


def test_other_stages_need_redis() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        Settings(stage="Prod", audit_queue_url=QUEUE, jwt_secret="s" * 32)


def test_other_stages_need_the_audit_queue() -> None:
    with pytest.raises(ValidationError, match="AUDIT_QUEUE_URL"):
        Settings(stage="Prod", redis_url=REDIS, jwt_secret="s" * 32)


@pytest.mark.parametrize("spec", ["100", "0/60", "100/0", "many/60", "100/60/2"])
def test_malformed_rate_limits_are_refused_at_start(spec: str) -> None:
    with pytest.raises(ValidationError, match="rate limit 'user'"):
        Settings(rate_limit_user=spec)


def test_rate_limits_come_from_configuration() -> None:
    policy = Settings.from_environment({"RATE_LIMIT_LOGIN": " 3 / 30 "}).rate_policy("login")
    assert (policy.name, policy.quota, policy.window_seconds) == ("login", 3, 30)


def test_an_empty_variable_is_unset_so_a_deployed_function_never_gets_an_empty_endpoint() -> None:
    deployed = {"STAGE": "Prod", "REDIS_URL": REDIS, "AUDIT_QUEUE_URL": QUEUE, "JWT_SECRET_ARN": "arn:x"}
    settings = Settings.from_environment(deployed | {"DYNAMODB_ENDPOINT_URL": "", "SQS_ENDPOINT_URL": ""})
    assert (settings.dynamodb_endpoint_url, settings.sqs_endpoint_url) == (None, None)
    assert Settings.from_environment({"JWT_SECRET_ARN": "", "LOG_LEVEL": ""}) == Settings()
