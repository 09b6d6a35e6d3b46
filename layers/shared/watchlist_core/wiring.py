"""The composition roots: the API's and the audit functions' services, built once per process, on first use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from pynamodb.connection import Connection

from watchlist_core import tracing
from watchlist_core.external.github import GitHubClient
from watchlist_core.queues import AuditQueue, MailQueue
from watchlist_core.security.passwords import PasswordHasher
from watchlist_core.security.secrets import secret_loader
from watchlist_core.security.tokens import TokenSigner, checked_signing_key
from watchlist_core.services.account_mail import MailRequests
from watchlist_core.services.accounts import AccountService
from watchlist_core.services.admin import AdminService
from watchlist_core.services.admission import AdmissionService
from watchlist_core.services.audit_delivery import AuditIngest, AuditTrail, OutboxRelay
from watchlist_core.services.auth import AuthService
from watchlist_core.services.github import CachePolicy, GitHubProfiles
from watchlist_core.services.health import Check, HealthService
from watchlist_core.services.idempotency import IdempotentRequests
from watchlist_core.services.login_throttle import LoginThrottle
from watchlist_core.services.recovery import AccountRecovery
from watchlist_core.services.watchlist import WatchlistService
from watchlist_core.settings import RATE_POLICIES, Settings, get_settings
from watchlist_core.state.admission import RedisAdmission
from watchlist_core.state.cache import ResponseCache
from watchlist_core.state.client import RedisState
from watchlist_core.state.login_throttle import RedisLoginCounters
from watchlist_core.state.lookups import GitHubLookups
from watchlist_core.state.revocations import RedisEndedSessions
from watchlist_core.storage.audit_events import AuditEventStore
from watchlist_core.storage.idempotency import idempotency_records
from watchlist_core.storage.items import ItemStore
from watchlist_core.storage.login_failures import LoginFailureStore
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.sessions import SessionStore
from watchlist_core.storage.tables import bind_tables, connection_for
from watchlist_core.storage.users import UserStore

if TYPE_CHECKING:
    from watchlist_core.services.mail_delivery import MailDelivery


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: RedisState
    auth: AuthService
    recovery: AccountRecovery
    admission: AdmissionService
    watchlists: WatchlistService
    accounts: AccountService
    admin: AdminService
    cache: ResponseCache
    health: HealthService
    github: GitHubProfiles
    idempotency: IdempotentRequests


def _dynamodb_probe(settings: Settings) -> Check:
    # Its own connection: short timeouts and no retries, so a dead DynamoDB fails the check fast.
    connection = Connection(
        region=settings.aws_region,
        host=settings.dynamodb_endpoint_url,
        connect_timeout_seconds=settings.health_check_timeout_seconds,
        read_timeout_seconds=settings.health_check_timeout_seconds,
        max_retry_attempts=0,
    )
    return Check("dynamodb", lambda: connection.describe_table(settings.users_table))


@cache
def signing_key() -> str:
    """The token signing key, fetched and checked once per instance (and again after a reset: a SnapStart restore)."""
    return checked_signing_key(get_settings())


@cache
def get_services() -> Services:
    settings = get_settings()
    signing_key()  # checked here too: after a reset (a SnapStart restore), no instance serves without a usable key
    bind_tables(settings)
    connection = connection_for(settings)
    policies = {name: settings.rate_policy(name) for name in RATE_POLICIES}
    redis = RedisState(
        secret_loader(settings.aws_region, settings.redis_url, settings.redis_url_arn),
        timeout_seconds=settings.redis_timeout_seconds,
        pause_after_failure_seconds=settings.redis_pause_after_failure_seconds,
    )
    response_cache = ResponseCache(redis, settings.cache_ttl_seconds)
    outbox = OutboxStore(settings.audit_outbox_grace_seconds)
    queue = AuditQueue(settings, lambda: connection.session)
    audit = AuditTrail(queue, outbox)
    mail = MailRequests(MailQueue(settings, lambda: connection.session))
    passwords = PasswordHasher(settings)
    cursors = CursorCodec(signing_key)  # its own key, derived from the signing key: rotates with it
    users = UserStore(connection, outbox, cursors)
    sessions = SessionStore()
    ended_sessions = RedisEndedSessions(redis, settings.access_token_ttl_seconds)
    items = ItemStore(connection, outbox, cursors)
    watchlists = WatchlistService(items, response_cache, audit)
    auth = AuthService(
        users,
        sessions,
        passwords,
        TokenSigner(settings, signing_key),
        ended_sessions,
        LoginThrottle(
            RedisLoginCounters(redis, policies["login_failures"], policies["login_account_failures"]),
            LoginFailureStore(),
            policies["login_account_failures"],
        ),
        audit,
        response_cache,
        mail,
        timedelta(seconds=settings.refresh_reuse_grace_seconds),
    )
    admission = AdmissionService(
        RedisAdmission(redis),
        policies,
        sessions,
        ended_sessions,
        revocation_fails_closed=settings.revocation_fail_mode == "closed",
    )
    audit_events = AuditEventStore(settings.audit_retention_days, cursors)
    accounts = AccountService(users, items, auth, audit_events, response_cache, audit)
    health = HealthService(
        # Redis and SQS are not required: without them the API degrades (no shared limits; audit via outbox).
        [
            _dynamodb_probe(settings),
            Check("redis", redis.ping, required=False),
            Check("sqs", queue.ping, required=False),
        ],
        settings.health_check_timeout_seconds,
    )
    return Services(
        settings=settings,
        redis=redis,
        auth=auth,
        recovery=AccountRecovery(
            users, passwords, mail, audit, response_cache, auth.end_sessions, auth.forgive_failed_logins
        ),
        admission=admission,
        watchlists=watchlists,
        accounts=accounts,
        admin=AdminService(users, watchlists, response_cache, audit, audit_events, auth.end_sessions, accounts),
        cache=response_cache,
        health=health,
        github=GitHubProfiles(
            GitHubClient(
                settings, secret_loader(settings.aws_region, settings.github_token, settings.github_token_arn)
            ),
            GitHubLookups(redis),
            CachePolicy(
                fresh_seconds=settings.github_cache_ttl_seconds,
                not_found_seconds=settings.github_not_found_ttl_seconds,
                keep_seconds=settings.github_etag_ttl_seconds,
            ),
        ),
        idempotency=IdempotentRequests(lambda: idempotency_records(settings, connection)),
    )


@dataclass(frozen=True)
class AuditWorker:
    """What the audit function and the outbox relay need: DynamoDB and SQS, no Redis, no secrets."""

    ingest: AuditIngest
    relay: OutboxRelay


@cache
def get_audit_worker() -> AuditWorker:
    settings = get_settings()
    bind_tables(settings)
    outbox = OutboxStore(settings.audit_outbox_grace_seconds)
    return AuditWorker(
        # Ingest only stores events: the codec's key (and so the signing key) is never read here.
        ingest=AuditIngest(AuditEventStore(settings.audit_retention_days, CursorCodec(signing_key)), outbox),
        relay=OutboxRelay(outbox, AuditQueue(settings), settings.audit_relay_max_attempts),
    )


@cache
def get_mail_worker() -> MailDelivery:
    """What the mail function needs: the users table (it mints the links' tokens), SES and the mail queue."""
    # Here, not at the top: the API function imports this module, and needs none of it.
    from watchlist_core.mail.ses import SesMailer
    from watchlist_core.services.mail_delivery import LinkPolicy, MailDelivery

    settings = get_settings()
    bind_tables(settings)
    outbox = OutboxStore(settings.audit_outbox_grace_seconds)
    # The store's cursor codec is never used here: no key is read.
    users = UserStore(connection_for(settings), outbox, CursorCodec(signing_key))
    policy = LinkPolicy(
        links_url=settings.account_links_url,
        reset_ttl=timedelta(seconds=settings.password_reset_ttl_seconds),
        verification_ttl=timedelta(seconds=settings.email_verification_ttl_seconds),
        interval=timedelta(seconds=settings.account_mail_interval_seconds),
    )
    return MailDelivery(users, SesMailer(settings), policy)


@cache
def get_mail_queue() -> MailQueue:
    return MailQueue(get_settings())


def reset() -> None:
    """Forget the cached settings and services, so the next use reads the environment again."""
    get_services.cache_clear()
    get_audit_worker.cache_clear()
    get_mail_worker.cache_clear()
    get_mail_queue.cache_clear()
    signing_key.cache_clear()
    get_settings.cache_clear()
    tracing.reset()
