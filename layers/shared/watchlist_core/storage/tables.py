"""PynamoDB records. Table names and keys mirror template.yaml, where the tables are declared."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model

from watchlist_core import tracing
from watchlist_core.settings import Settings
from watchlist_core.storage.outage import Outage


class _Record(Model):
    class Meta:
        abstract = True

    outage = Outage(pause_seconds=0)  # replaced by bind_tables

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """PynamoDB's connection of this record class, its client guarded by the outage pause."""
        connection = super()._get_connection()
        cls.outage.watch(connection.connection.client)
        tracing.watch_aws_calls(connection.connection.client)
        return connection


# Users table: one partition key `pk` holds four kinds of record, told apart by its prefix.
class _UserFields(_Record):
    """What an account and its directory entry both hold."""

    class Meta:
        abstract = True

    pk = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    display_name = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = UnicodeAttribute()
    active = BooleanAttribute(null=True)  # False: deactivated by an admin; absent (accounts before it): active
    email_verified = BooleanAttribute(null=True)  # absent (accounts before it): not verified


class AccountTokenAttribute(MapAttribute[str, Any]):
    """An outstanding mailed token (security/account_tokens.py): its digest, never the token; the address it was
    mailed to; when it was issued (mails are spaced) and when it expires."""

    digest = UnicodeAttribute()
    email = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()


class UserRecord(_UserFields):
    """`USER#<id>`: the account, plus its per-(type, status) watchlist item counts. In no index, so that the writes
    of every item change (its counts) and of a password (its hash) reach no index either."""

    class Meta:
        table_name = "watchlist-users"

    password_hash = UnicodeAttribute()
    item_counts = MapAttribute[str, Any](default=dict)
    # The last password change: sessions begun before it are over, but the one that made it (their refresh is
    # refused even if the sweep of the sessions index missed them).
    sessions_ended_at = UTCDateTimeAttribute(null=True)
    session_kept = UnicodeAttribute(null=True)
    # The one outstanding token of each purpose: a new one replaces it, a use or a password change removes it.
    password_reset_token = AccountTokenAttribute(null=True)
    email_verification_token = AccountTokenAttribute(null=True)


class UserDirectoryIndex(GlobalSecondaryIndex["DirectoryEntryRecord"]):
    """Sparse index over directory entries only: the admin's user list, oldest first, over write shards."""

    class Meta:
        index_name = "directory"
        projection = AllProjection()

    directory = UnicodeAttribute(hash_key=True)
    directory_key = UnicodeAttribute(range_key=True)


class DirectoryEntryRecord(_UserFields):
    """`DIR#<id>`: what the admin's user list shows of an account, written with it and with each role change.

    Accounts stored before the directory had entries of its own carry `directory` themselves (under the key
    `USER`) until `python -m infra.aws.migrate_keys` moves them; read through this class they look the same.
    """

    class Meta:
        table_name = "watchlist-users"

    directory = UnicodeAttribute()
    directory_key = UnicodeAttribute()  # `<created_at>#<user id>`: oldest first, and unique
    directory_index = UserDirectoryIndex()


class EmailClaimRecord(_Record):
    """`EMAIL#<lowercased address>`: written with its user in one transaction, so an address is taken once."""

    class Meta:
        table_name = "watchlist-users"

    pk = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


class TallyRecord(_Record):
    """`TALLY#<name>`: a counter (all users, over shards; admins) kept beside the records it counts."""

    class Meta:
        table_name = "watchlist-users"

    pk = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


# Items table: one partition per user, item ids (ULIDs) as sort key, so creation order is key order.
# Local secondary indexes only: unlike a global one, an LSI can be read with strong consistency,
# so a list is never stale right after its owner's write.
class ItemsByTypeIndex(LocalSecondaryIndex["ItemRecord"]):
    """`<type>#<item id>`: one type's items in creation order."""

    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    type_key = UnicodeAttribute(range_key=True)


class ItemsByTitleIndex(LocalSecondaryIndex["ItemRecord"]):
    class Meta:
        index_name = "by_title"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    title_key = UnicodeAttribute(range_key=True)


class ItemsByRatingIndex(LocalSecondaryIndex["ItemRecord"]):
    class Meta:
        index_name = "by_rating"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    rating_key = UnicodeAttribute(range_key=True)


class ItemsByYearIndex(LocalSecondaryIndex["ItemRecord"]):
    class Meta:
        index_name = "by_year"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    year_key = UnicodeAttribute(range_key=True)


class ItemRecord(_Record):
    class Meta:
        table_name = "watchlist-items"

    user_id = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute(range_key=True)
    title = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    year = NumberAttribute(null=True)
    rating = NumberAttribute(null=True)
    notes = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()
    type_key = UnicodeAttribute()
    title_key = UnicodeAttribute()
    rating_key = UnicodeAttribute()
    year_key = UnicodeAttribute()

    by_type = ItemsByTypeIndex()
    by_title = ItemsByTitleIndex()
    by_rating = ItemsByRatingIndex()
    by_year = ItemsByYearIndex()


class SessionsByUserIndex(GlobalSecondaryIndex["SessionRecord"]):
    """One user's sessions (eventually consistent, like every global index)."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    session_id = UnicodeAttribute(range_key=True)


class SessionRecord(_Record):
    """One refresh-token family: the jti of its only valid refresh token, rotated on each use."""

    class Meta:
        table_name = "watchlist-sessions"

    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    by_user = SessionsByUserIndex()
    # Where it began, for its owner's list of sessions (absent on sessions begun before the list existed).
    created_at = UTCDateTimeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    current_jti = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)  # ended: none of its refresh or access tokens is accepted any more
    expires_at = TTLAttribute()
    # The last rotation: the token it replaced, when, and the access token it issued (a retry within the grace
    # period gets the same pair back, re-signed from these).
    previous_jti = UnicodeAttribute(null=True)
    rotated_at = UTCDateTimeAttribute(null=True)
    access_jti = UnicodeAttribute(null=True)


class LoginFailuresRecord(_Record):
    """Failed sign-ins of one e-mail address (known or not) while Redis cannot count them: the login throttle's
    fallback (storage/login_failures.py). Beside the sessions, whose table expires items by `expires_at`."""

    class Meta:
        table_name = "watchlist-sessions"

    session_id = UnicodeAttribute(hash_key=True)  # "login-failures#" and a keyed digest of the address
    failures = NumberAttribute(default=0)
    expires_at = TTLAttribute()  # the window's end: DynamoDB deletes it some time after; readers check it


# Audit trail: one item per event, keyed by its id (a ULID, so time-ordered). Three global indexes answer
# the admin's queries newest first: everything, one actor's events, one action's events.
class AuditByTimeIndex(GlobalSecondaryIndex["AuditEventRecord"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    stream = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class AuditByActorIndex(GlobalSecondaryIndex["AuditEventRecord"]):
    """Sparse: events without an actor (a failed login on an unknown address) are not in it."""

    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class AuditByActionIndex(GlobalSecondaryIndex["AuditEventRecord"]):
    class Meta:
        index_name = "by_action"
        projection = AllProjection()

    action = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class AuditEventRecord(_Record):
    """The event as its schema's JSON (`body`), plus the attributes the indexes are keyed on."""

    class Meta:
        table_name = "watchlist-audit"

    id = UnicodeAttribute(hash_key=True)
    stream = UnicodeAttribute()
    action = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True)
    body = UnicodeAttribute()
    expires_at = TTLAttribute()

    by_time = AuditByTimeIndex()
    by_actor = AuditByActorIndex()
    by_action = AuditByActionIndex()


class AuditLookupRecord(_Record):
    """`trace#<trace id>` or `gateway#<API Gateway's request id>`: the ids of the events one request produced,
    found by an id no client chooses. In the audit table (a key read, not another index: CloudFormation adds one
    index to a table per update), and in none of its indexes, having none of their keys."""

    class Meta:
        table_name = "watchlist-audit"

    id = UnicodeAttribute(hash_key=True)
    event_ids = UnicodeSetAttribute()
    expires_at = TTLAttribute()


class OutboxRecord(_Record):
    """An audit event not yet known to be stored: written with the change it describes, or when SQS failed."""

    class Meta:
        table_name = "watchlist-audit-outbox"

    event_id = UnicodeAttribute(hash_key=True)
    body = UnicodeAttribute()
    due_at = NumberAttribute()  # epoch seconds: the relay leaves the row alone until then
    attempts = NumberAttribute(default=0)
    expires_at = TTLAttribute()


def bind_tables(settings: Settings) -> None:
    """Point every record class at the configured tables and endpoint (no I/O)."""
    names: dict[type[Model], str] = {
        UserRecord: settings.users_table,
        DirectoryEntryRecord: settings.users_table,
        EmailClaimRecord: settings.users_table,
        TallyRecord: settings.users_table,
        ItemRecord: settings.items_table,
        SessionRecord: settings.sessions_table,
        LoginFailuresRecord: settings.sessions_table,
        AuditEventRecord: settings.audit_table,
        AuditLookupRecord: settings.audit_table,
        OutboxRecord: settings.audit_outbox_table,
    }
    for record, table_name in names.items():
        meta: Any = record.Meta
        meta.table_name = table_name
        meta.region = settings.aws_region
        meta.host = settings.dynamodb_endpoint_url
        meta.connect_timeout_seconds = settings.dynamodb_connect_timeout_seconds
        meta.read_timeout_seconds = settings.dynamodb_read_timeout_seconds
        meta.max_retry_attempts = settings.dynamodb_max_retry_attempts
        record._connection = None
    _Record.outage = Outage(settings.dynamodb_pause_after_failure_seconds)


def connection_for(settings: Settings) -> Connection:
    """A connection for transactions, with the same endpoint and limits as the records (and the same outage
    pause: see `guarded`)."""
    return Connection(
        region=settings.aws_region,
        host=settings.dynamodb_endpoint_url,
        connect_timeout_seconds=settings.dynamodb_connect_timeout_seconds,
        read_timeout_seconds=settings.dynamodb_read_timeout_seconds,
        max_retry_attempts=settings.dynamodb_max_retry_attempts,
    )


def guarded(connection: Connection) -> Connection:
    """`connection`, its client guarded by the records' outage pause (creates the client: call it at use)."""
    guarded_client(connection.client)
    return connection


def guarded_client(client: Any) -> Any:
    """A DynamoDB client (botocore's) under the records' outage pause, its calls traced."""
    _Record.outage.watch(client)
    tracing.watch_aws_calls(client)
    return client
