"""The composition roots: the API's and the audit and mail functions' services, built once per process, on first use.

The API's services are built one by one, each by the first request that uses it (`Services`), with its modules
imported then: importing the handler builds the app alone, and a cold start's first request pays for what it uses (a
sign-in: the accounts' stores, tokens, limits and audit trail), not for the other routes' services (the watchlist,
the account export and deletion, admin, GitHub, the readiness check).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Self, overload

from pynamodb.connection import Connection

from watchlist_core import tracing
from watchlist_core.security.secrets import secret_loader
from watchlist_core.security.tokens import TokenSigner, checked_signing_key
from watchlist_core.settings import RATE_POLICIES, Settings, get_settings

if TYPE_CHECKING:
    from watchlist_core.queues import AuditQueue, MailQueue
    from watchlist_core.security.passwords import PasswordHasher
    from watchlist_core.services.account_mail import MailRequests
    from watchlist_core.services.accounts import AccountService
    from watchlist_core.services.admin import AdminService
    from watchlist_core.services.admission import AdmissionService
    from watchlist_core.services.audit_delivery import AuditTrail, AuditWorker
    from watchlist_core.services.auth import AuthService
    from watchlist_core.services.github import GitHubProfiles
    from watchlist_core.services.health import Check, HealthService
    from watchlist_core.services.idempotency import IdempotentRequests
    from watchlist_core.services.mail_delivery import MailDelivery
    from watchlist_core.services.recovery import AccountRecovery
    from watchlist_core.services.watchlist import WatchlistService
    from watchlist_core.state.cache import ResponseCache
    from watchlist_core.state.client import RedisState
    from watchlist_core.state.revocations import RedisEndedSessions
    from watchlist_core.storage.audit_events import AuditEventStore
    from watchlist_core.storage.items import ItemStore
    from watchlist_core.storage.outbox import OutboxStore
    from watchlist_core.storage.pagination import CursorCodec
    from watchlist_core.storage.sessions import SessionStore
    from watchlist_core.storage.users import UserStore


class _built_once[T](cached_property[T]):
    """A member built at its first use, once: under the instance's lock, so that requests on a thread pool (make dev)
    asking for it at once share one (one Redis pool, one circuit breaker), never build two. Built, it is an
    attribute of the instance, read without the lock."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T | Self:
        if instance is None:
            return self
        with instance._lock:  # type: ignore[attr-defined]
            return super().__get__(instance, owner)


class Services:
    """The API's services, each built (and its modules imported) by the first request that uses it."""

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self.settings = settings
        self._connection = connection  # for transactions: the records are bound by get_services
        self._policies = {name: settings.rate_policy(name) for name in RATE_POLICIES}
        self._lock = threading.RLock()  # re-entrant: a member's build asks for the members it is made of

    @_built_once
    def redis(self) -> RedisState:
        from watchlist_core.state.client import RedisState

        settings = self.settings
        return RedisState(
            secret_loader(settings.aws_region, settings.redis_url, settings.redis_url_arn),
            timeout_seconds=settings.redis_timeout_seconds,
            pause_after_failure_seconds=settings.redis_pause_after_failure_seconds,
        )

    @_built_once
    def cache(self) -> ResponseCache:
        from watchlist_core.state.cache import ResponseCache

        return ResponseCache(self.redis, self.settings.cache_ttl_seconds)

    @_built_once
    def auth(self) -> AuthService:
        from watchlist_core.services.auth import AuthService
        from watchlist_core.services.login_throttle import LoginThrottle
        from watchlist_core.state.login_throttle import RedisLoginCounters
        from watchlist_core.storage.login_failures import LoginFailureStore

        settings, policies = self.settings, self._policies
        return AuthService(
            self._users,
            self._sessions,
            self._passwords,
            TokenSigner(settings, signing_key),
            self._ended_sessions,
            LoginThrottle(
                RedisLoginCounters(self.redis, policies["login_failures"], policies["login_account_failures"]),
                LoginFailureStore(),
                policies["login_account_failures"],
            ),
            self._audit,
            self.cache,
            self._mail,
            timedelta(seconds=settings.refresh_reuse_grace_seconds),
        )

    @_built_once
    def recovery(self) -> AccountRecovery:
        from watchlist_core.services.recovery import AccountRecovery

        auth = self.auth
        return AccountRecovery(
            self._users,
            self._passwords,
            self._mail,
            self._audit,
            self.cache,
            auth.end_sessions,
            auth.forgive_failed_logins,
        )

    @_built_once
    def admission(self) -> AdmissionService:
        from watchlist_core.services.admission import AdmissionService
        from watchlist_core.state.admission import RedisAdmission

        return AdmissionService(
            RedisAdmission(self.redis),
            self._policies,
            self._sessions,
            self._ended_sessions,
            revocation_fails_closed=self.settings.revocation_fail_mode == "closed",
        )

    @_built_once
    def watchlists(self) -> WatchlistService:
        from watchlist_core.services.watchlist import WatchlistService

        return WatchlistService(self._items, self.cache, self._audit)

    @_built_once
    def accounts(self) -> AccountService:
        from watchlist_core.services.accounts import AccountService

        return AccountService(self._users, self._items, self.auth, self._audit_events, self.cache, self._audit)

    @_built_once
    def admin(self) -> AdminService:
        from watchlist_core.services.admin import AdminService

        return AdminService(
            self._users,
            self.watchlists,
            self.cache,
            self._audit,
            self._audit_events,
            self.auth.end_sessions,
            self.accounts,
        )

    @_built_once
    def health(self) -> HealthService:
        from watchlist_core.services.health import Check, HealthService

        # Redis and SQS are not required: without them the API degrades (no shared limits; audit via outbox).
        return HealthService(
            [
                _dynamodb_probe(self.settings),
                Check("redis", self.redis.ping, required=False),
                Check("sqs", self._audit_queue.ping, required=False),
            ],
            self.settings.health_check_timeout_seconds,
        )

    @_built_once
    def github(self) -> GitHubProfiles:
        from watchlist_core.external.github import GitHubClient
        from watchlist_core.services.github import CachePolicy, GitHubProfiles
        from watchlist_core.state.lookups import GitHubLookups

        settings = self.settings
        return GitHubProfiles(
            GitHubClient(
                settings, secret_loader(settings.aws_region, settings.github_token, settings.github_token_arn)
            ),
            GitHubLookups(self.redis),
            CachePolicy(
                fresh_seconds=settings.github_cache_ttl_seconds,
                not_found_seconds=settings.github_not_found_ttl_seconds,
                keep_seconds=settings.github_etag_ttl_seconds,
            ),
        )

    @_built_once
    def idempotency(self) -> IdempotentRequests:
        from watchlist_core.services.idempotency import IdempotentRequests
        from watchlist_core.storage.idempotency import idempotency_records

        settings, connection = self.settings, self._connection
        return IdempotentRequests(lambda: idempotency_records(settings, connection))

    # What the services above share, built with the first of them that needs it.

    @_built_once
    def _audit_queue(self) -> AuditQueue:
        from watchlist_core.queues import AuditQueue

        connection = self._connection
        return AuditQueue(self.settings, lambda: connection.session)

    @_built_once
    def _audit(self) -> AuditTrail:
        from watchlist_core.services.audit_delivery import AuditTrail

        return AuditTrail(self._audit_queue, self._outbox)

    @_built_once
    def _mail(self) -> MailRequests:
        from watchlist_core.queues import MailQueue
        from watchlist_core.services.account_mail import MailRequests

        connection = self._connection
        return MailRequests(MailQueue(self.settings, lambda: connection.session))

    @_built_once
    def _outbox(self) -> OutboxStore:
        from watchlist_core.storage.outbox import OutboxStore

        return OutboxStore(self.settings.audit_outbox_grace_seconds)

    @_built_once
    def _passwords(self) -> PasswordHasher:
        from watchlist_core.security.passwords import PasswordHasher

        return PasswordHasher(self.settings)

    @_built_once
    def _cursors(self) -> CursorCodec:
        from watchlist_core.storage.pagination import CursorCodec

        return CursorCodec(signing_key)  # its own key, derived from the signing key: rotates with it

    @_built_once
    def _users(self) -> UserStore:
        from watchlist_core.storage.users import UserStore

        return UserStore(self._connection, self._outbox, self._cursors)

    @_built_once
    def _sessions(self) -> SessionStore:
        from watchlist_core.storage.sessions import SessionStore

        return SessionStore()

    @_built_once
    def _ended_sessions(self) -> RedisEndedSessions:
        from watchlist_core.state.revocations import RedisEndedSessions

        return RedisEndedSessions(self.redis, self.settings.access_token_ttl_seconds)

    @_built_once
    def _items(self) -> ItemStore:
        from watchlist_core.storage.items import ItemStore

        return ItemStore(self._connection, self._outbox, self._cursors)

    @_built_once
    def _audit_events(self) -> AuditEventStore:
        from watchlist_core.storage.audit_events import AuditEventStore

        return AuditEventStore(self.settings.audit_retention_days, self._cursors)


def _dynamodb_probe(settings: Settings) -> Check:
    from watchlist_core.services.health import Check

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
    from watchlist_core.storage.tables import bind_tables, connection_for

    settings = get_settings()
    signing_key()  # checked here too: after a reset (a SnapStart restore), no instance serves without a usable key
    bind_tables(settings)
    return Services(settings, connection_for(settings))


def build_every_service() -> None:
    """Builds each of the API's services, so that every module they use is imported: for SnapStart's snapshot (see
    snapshots.py), which should hold what a restored instance's first request would otherwise import. No I/O: a
    service connects, and reads a secret, at its first call."""
    services = get_services()
    for name, member in vars(Services).items():
        if isinstance(member, _built_once):
            getattr(services, name)


@cache
def get_audit_worker() -> AuditWorker:
    """What the audit function and the outbox relay need: DynamoDB and SQS, no Redis, no secrets."""
    from watchlist_core.queues import AuditQueue
    from watchlist_core.services.audit_delivery import AuditIngest, AuditWorker, OutboxRelay
    from watchlist_core.storage.audit_events import AuditEventStore
    from watchlist_core.storage.outbox import OutboxStore
    from watchlist_core.storage.pagination import CursorCodec
    from watchlist_core.storage.tables import bind_tables

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
    from watchlist_core.mail.ses import SesMailer
    from watchlist_core.services.mail_delivery import LinkPolicy, MailDelivery
    from watchlist_core.storage.outbox import OutboxStore
    from watchlist_core.storage.pagination import CursorCodec
    from watchlist_core.storage.tables import bind_tables, connection_for
    from watchlist_core.storage.users import UserStore

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
    from watchlist_core.queues import MailQueue

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
