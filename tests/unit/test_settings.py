import pytest
from pydantic import ValidationError

from watchlist_core.settings import Settings
from watchlist_core.state.client import RedisState

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


REDIS_URL_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:watchlist/redis-url-AbCdEf"


def test_other_stages_accept_the_redis_url_in_a_secret_instead() -> None:
    deployed = {"STAGE": "Prod", "REDIS_URL_ARN": REDIS_URL_SECRET, "AUDIT_QUEUE_URL": QUEUE, "REDIS_URL": ""}
    settings = Settings.from_environment(deployed | {"JWT_SECRET_ARN": "arn:x"})
    assert (settings.redis_url_arn, settings.redis_url) == (REDIS_URL_SECRET, None)
    with pytest.raises(ValidationError, match="REDIS_URL_ARN or REDIS_URL"):
        Settings.from_environment(deployed | {"REDIS_URL_ARN": ""})


def test_a_password_in_the_redis_url_stays_out_of_the_settings_repr() -> None:
    settings = Settings(redis_url="rediss://default:hunter2@redis.internal:6379")
    assert "hunter2" not in repr(settings)
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "rediss://default:hunter2@redis.internal:6379"


def test_redis_reads_its_url_on_first_use_and_a_failed_read_is_redis_unavailable_until_it_succeeds() -> None:
    """wiring passes RedisState the secret's loader: nothing is fetched at import or wiring, and Secrets Manager
    being unreachable degrades like Redis being down (then the next use after the pause tries again)."""
    reads: list[str] = []

    def load() -> str | None:
        reads.append("read")
        if len(reads) == 1:
            raise ConnectionError("Secrets Manager unreachable")
        return None  # no URL: the in-process stand-in

    state = RedisState(load, timeout_seconds=0.1, pause_after_failure_seconds=0)
    assert reads == []
    assert state.run("test", "key", lambda slot: slot.commands.set("key", "value")) is None
    assert state.run("test", "key", lambda slot: slot.commands.set("key", "value")) is True
    assert state.run("test", "key", lambda slot: slot.commands.get("key")) in {"value", b"value"}
    assert reads == ["read", "read"]
