"""The composition root: settings, stores and services built once per process, on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pynamodb.connection import Connection

from watchlist_core.security.passwords import PasswordHasher
from watchlist_core.security.revocation import InProcessRevokedTokens
from watchlist_core.security.tokens import TokenSigner, signing_key_loader
from watchlist_core.services.admin import AdminService
from watchlist_core.services.auth import AuthService
from watchlist_core.services.health import Check, HealthService
from watchlist_core.services.watchlist import WatchlistService
from watchlist_core.settings import Settings, get_settings
from watchlist_core.storage.items import ItemStore
from watchlist_core.storage.sessions import SessionStore
from watchlist_core.storage.tables import bind_tables, connection_for
from watchlist_core.storage.users import UserStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    auth: AuthService
    watchlists: WatchlistService
    admin: AdminService
    health: HealthService


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
def get_services() -> Services:
    settings = get_settings()
    bind_tables(settings)
    connection = connection_for(settings)
    users = UserStore(connection)
    watchlists = WatchlistService(ItemStore(connection))
    auth = AuthService(
        users,
        SessionStore(),
        PasswordHasher(settings),
        TokenSigner(settings, signing_key_loader(settings)),
        InProcessRevokedTokens(),
    )
    health = HealthService([_dynamodb_probe(settings)], settings.health_check_timeout_seconds)
    return Services(settings, auth, watchlists, AdminService(users, watchlists), health)


def reset() -> None:
    """Forget the cached settings and services, so the next use reads the environment again."""
    get_services.cache_clear()
    get_settings.cache_clear()
