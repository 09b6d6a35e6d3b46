"""One validated settings model, read lazily from the environment and cached.

Plain pydantic rather than pydantic-settings: reading upper-cased field names from the environment is
all this needs, and pydantic-settings added about 15 ms (argparse, dotenv, its CLI and cloud sources)
to every cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from watchlist_core.ratelimit import RatePolicy

LOCAL_STAGE = "local"
MIN_SECRET_BYTES = 32
RATE_POLICIES = (
    "user",
    "writes",
    "anonymous",
    "register",
    "refresh",
    "login",
    "login_failures",
    "login_account_failures",
    "password_forgot",
    "external",
)


class Settings(BaseModel):
    """Every field is read from the environment variable of the same name in upper case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = LOCAL_STAGE
    app_version: str = "0.1.0"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Traces (watchlist_core/tracing.py). "xray": spans to the X-Ray endpoint Lambda runs beside a function with
    # `Tracing: Active` (AWS_XRAY_DAEMON_ADDRESS); "log": each invocation's spans as one log line (make dev);
    # "auto": "xray" where that endpoint is set, else "off".
    tracing: Literal["auto", "off", "xray", "log"] = "auto"
    aws_xray_daemon_address: str | None = None

    aws_region: str = "us-east-1"
    dynamodb_endpoint_url: str | None = None
    users_table: str = "watchlist-users"
    items_table: str = "watchlist-items"
    sessions_table: str = "watchlist-sessions"
    audit_table: str = "watchlist-audit"
    audit_outbox_table: str = "watchlist-audit-outbox"
    idempotency_table: str = "watchlist-idempotency"
    # A hung DynamoDB costs a request at most one call's budget: two attempts of (connect or read) timeout plus
    # botocore's back-off (< 1 s), under 3 s; then calls fail at once for the pause (storage/outage.py).
    # DynamoDB answers in milliseconds; moto, locally, can take longer under load (the tests raise the read limit).
    dynamodb_connect_timeout_seconds: float = Field(default=0.5, gt=0)
    dynamodb_read_timeout_seconds: float = Field(default=0.8, gt=0)
    dynamodb_max_retry_attempts: int = Field(default=1, ge=0)
    dynamodb_pause_after_failure_seconds: float = Field(default=2.0, ge=0)
    health_check_timeout_seconds: float = 1.5

    # The tokens' signing key: JWT_SECRET, or a Secrets Manager secret by ARN. There is no default: every stack has
    # its own (make dev, make sam-local and compose generate one, infra/local/signing_key.py); without one the
    # function's init fails (security/tokens.py, checked_signing_key).
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "watchlist-api"
    jwt_audience: str = "watchlist-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=3600)
    # A refresh token presented again this soon after its rotation gets the same new pair (a retry after a lost
    # response, or two tabs refreshing at once); later, a reuse ends the session. 0: any reuse ends it.
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=60)
    # A device token (sign-in answers' `device_token`) spares its client the lockouts strangers' guesses cause.
    device_token_ttl_seconds: int = Field(default=180 * 24 * 3600, ge=86400)

    # OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, parallelism 1.
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

    max_body_bytes: int = 64 * 1024
    # Where /docs loads Swagger UI's swagger-ui-bundle.js and swagger-ui.css from; unset: the API's own pinned copies
    # (routers/docs.py).
    swagger_ui_assets_url: str | None = None
    # Comma-separated origins browsers may call the API from; empty: no CORS headers at all.
    cors_allow_origins: str = ""

    # Audit trail. Unset queue URL (local only): every event waits in the outbox.
    audit_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    sqs_timeout_seconds: float = Field(default=1.0, gt=0, le=5)
    sqs_pause_after_failure_seconds: float = Field(default=5.0, ge=0)
    audit_retention_days: int = Field(default=365, ge=1)
    # The relay leaves an outbox row alone this long after it was written (or last sent), giving the first
    # delivery time to be stored; then it sends it again, backing off, up to `audit_relay_max_attempts` times.
    audit_outbox_grace_seconds: int = Field(default=120, ge=0)
    audit_relay_max_attempts: int = Field(default=8, ge=1)

    # Redis: its URL (a password in it stays out of reprs and logs), or the ARN of a Secrets Manager secret holding
    # the URL, read once per instance (deployed stacks: the URL is never in their environment). Neither: an
    # in-process stand-in (local development only).
    redis_url: SecretStr | None = None
    redis_url_arn: str | None = None
    redis_timeout_seconds: float = Field(default=0.25, gt=0, le=2)
    redis_pause_after_failure_seconds: float = Field(default=5.0, ge=0)
    cache_ttl_seconds: int = Field(default=60, ge=1)
    # With Redis unreachable, "dynamodb" checks each access token's session in DynamoDB (one consistent read per
    # request: an ended session stays ended); "closed" answers 503 to every authenticated request instead.
    revocation_fail_mode: Literal["dynamodb", "closed"] = "dynamodb"
    # The GitHub REST API. The token is optional (60 requests an hour without, 5,000 with).
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_token_arn: str | None = None
    github_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    github_read_timeout_seconds: float = Field(default=2.0, gt=0)
    # Everything one request may spend on GitHub, retries included: well inside the 10 s function timeout.
    github_deadline_seconds: float = Field(default=4.0, gt=0, le=8)
    github_attempts: int = Field(default=3, ge=1, le=5)
    github_cache_ttl_seconds: int = Field(default=300, ge=1)
    github_not_found_ttl_seconds: int = Field(default=60, ge=1)
    # Kept this long to revalidate with If-None-Match (a 304 costs no GitHub quota).
    github_etag_ttl_seconds: int = Field(default=86400, ge=1)
    github_breaker_failures: int = Field(default=5, ge=1)
    github_breaker_open_seconds: float = Field(default=30.0, gt=0)

    # Rate limits, "requests/seconds".
    rate_limit_user: str = "100/60"
    # What one user can make the API store in a day: items, their audit events, idempotency records.
    rate_limit_writes: str = "1000/86400"
    rate_limit_anonymous: str = "60/60"
    # Accounts one address can open: it bounds what an anonymous caller can make the API store.
    rate_limit_register: str = "20/3600"
    # Per session, not per address: every user behind one carrier's NAT refreshes every 15 minutes.
    rate_limit_refresh: str = "10/60"
    rate_limit_login: str = "10/60"
    # Wrong passwords for one account from one address (or one device token), then from all untrusted clients
    # together (past that ceiling only clients with a device token of the account may try): state/login_throttle.py.
    rate_limit_login_failures: str = "5/900"
    rate_limit_login_account_failures: str = "50/900"
    rate_limit_external: str = "30/60"
    # Reset mails one address may ask for (each address's own, whatever e-mail it names; an account's mails are
    # spaced by `account_mail_interval_seconds` besides).
    rate_limit_password_forgot: str = "5/900"  # noqa: S105 (a rate, not a secret)

    # Account mail (services/account_mail.py): the API queues a request, the mail function sends it through SES.
    # Unset queue URL (local only): nothing is sent.
    mail_queue_url: str | None = None
    ses_endpoint_url: str | None = None
    # The From address (an SES identity of its own, or of its domain) and, if any, the SES configuration set.
    mail_sender: str = "Watchlist <no-reply@watchlist.invalid>"
    ses_configuration_set: str | None = None
    # Where a mail's links lead: the front end's pages (`<url>/reset?token=...`, `<url>/verify?token=...`).
    # Configured, never taken from a request's Host.
    account_links_url: str = "http://127.0.0.1:8501"
    password_reset_ttl_seconds: int = Field(default=1800, ge=300, le=86400)
    email_verification_ttl_seconds: int = Field(default=86400, ge=300, le=7 * 86400)
    # One reset or verification mail per account per this many seconds, however often it is asked for (a mailbox
    # is not to be flooded by strangers); the mail function checks it, so it holds without Redis too.
    account_mail_interval_seconds: int = Field(default=60, ge=0)
    # Receives of a mail before SQS moves it to the dead-letter queue: template.yaml's maxReceiveCount.
    mail_max_receives: int = Field(default=10, ge=1)
    # Whether an account must have confirmed its e-mail address to change its watchlist (its access tokens carry
    # whether it had; reads, sign-in and account management need no confirmation either way).
    require_verified_email: bool = False

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip()]

    @property
    def is_local(self) -> bool:
        return self.stage == LOCAL_STAGE

    def rate_policy(self, name: str) -> RatePolicy:
        return RatePolicy.parse(name, getattr(self, f"rate_limit_{name}"))

    @model_validator(mode="after")
    def _rate_limits_parse(self) -> Settings:
        for name in RATE_POLICIES:
            self.rate_policy(name)
        return self

    @model_validator(mode="after")
    def _require_redis_outside_local(self) -> Settings:
        if not self.is_local and not (self.redis_url or self.redis_url_arn):
            raise ValueError(
                f"stage {self.stage!r} needs REDIS_URL_ARN or REDIS_URL: the in-process stand-in is for local use only"
            )
        return self

    @model_validator(mode="after")
    def _require_audit_queue_outside_local(self) -> Settings:
        if not self.is_local and not self.audit_queue_url:
            raise ValueError(f"stage {self.stage!r} needs AUDIT_QUEUE_URL: audit events must leave the outbox")
        return self

    @model_validator(mode="after")
    def _refuse_a_short_secret(self) -> Settings:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if secret and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return self

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """An empty variable counts as unset: the template declares local overrides (endpoints) as empty."""
        values = {name: environ.get(name.upper()) for name in cls.model_fields}
        return cls.model_validate({name: value for name, value in values.items() if value})


class ConfigurationError(RuntimeError):
    """A setting the function cannot run without is missing or unusable: raised at init, never answered."""


@cache
def get_settings() -> Settings:
    return Settings.from_environment()
