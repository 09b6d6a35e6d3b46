"""Data access for user accounts, their e-mail claims and the user and admin tallies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist

from watchlist_core.audit.message import AuditEvent
from watchlist_core.domain import Page, Role, User, normalize_email
from watchlist_core.errors import ConflictError
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import decode_cursor, dynamodb_key, encode_cursor
from watchlist_core.storage.tables import EmailClaimRecord, TallyRecord, UserRecord
from watchlist_core.storage.transactions import NamedWrites, run_transaction

USER_PREFIX = "USER#"
EMAIL_PREFIX = "EMAIL#"
ALL_USERS_TALLY = "TALLY#users"
ADMINS_TALLY = "TALLY#admins"
DIRECTORY = "USER"
_DIRECTORY_QUERY = "users"
_DIRECTORY_KEY_FIELDS = ("pk", "directory_key")
# The writes of an account's transactions, by name (storage/transactions.py).
_EMAIL_CLAIM = "e-mail claim"
_ACCOUNT = "account"
_ADMIN_TALLY = "admin tally"
_EMAIL_TAKEN = "An account with this e-mail address already exists."


def user_pk(user_id: str) -> str:
    return USER_PREFIX + user_id


@dataclass(frozen=True)
class StoredCredentials:
    user: User
    password_hash: str


def _to_user(record: UserRecord) -> User:
    return User(
        id=record.user_id,
        email=record.email,
        display_name=record.display_name,
        role=Role(record.role),
        created_at=record.created_at,  # pydantic parses the stored RFC 3339 string
    )


class UserStore:
    """Writes that change an account commit their audit event to the outbox in the same transaction."""

    def __init__(self, connection: Connection, outbox: OutboxStore) -> None:
        self._connection = connection
        self._outbox = outbox

    def create(self, user: User, password_hash: str, audit: AuditEvent) -> User:
        """Store a new account; ConflictError when its e-mail address is taken, also concurrently."""
        record = UserRecord(
            pk=user_pk(user.id),
            user_id=user.id,
            email=normalize_email(user.email),
            display_name=user.display_name,
            role=user.role.value,
            password_hash=password_hash,
            created_at=user.model_dump(mode="json")["created_at"],
            item_counts={},
            directory=DIRECTORY,
        )
        record.directory_key = f"{record.created_at}#{user.id}"
        claim = EmailClaimRecord(pk=EMAIL_PREFIX + record.email, user_id=user.id)

        def build(writes: NamedWrites) -> None:
            writes.put(_EMAIL_CLAIM, claim, condition=EmailClaimRecord.pk.does_not_exist())
            writes.put(_ACCOUNT, record, condition=UserRecord.pk.does_not_exist())
            if user.role is Role.ADMIN:
                writes.update(_ADMIN_TALLY, TallyRecord(pk=ADMINS_TALLY), actions=[TallyRecord.value.add(1)])
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, {_EMAIL_CLAIM: lambda: ConflictError(_EMAIL_TAKEN)})
        # Outside the transaction on purpose: every registration would otherwise contend on this one item.
        # The display total can drift only if the function dies between the two writes.
        TallyRecord(pk=ALL_USERS_TALLY).update(actions=[TallyRecord.value.add(1)])
        return _to_user(record)

    def get(self, user_id: str) -> User | None:
        try:
            return _to_user(UserRecord.get(user_pk(user_id), consistent_read=True))
        except DoesNotExist:
            return None

    def find_credentials(self, email: str) -> StoredCredentials | None:
        try:
            claim = EmailClaimRecord.get(EMAIL_PREFIX + normalize_email(email), consistent_read=True)
            record = UserRecord.get(user_pk(claim.user_id), consistent_read=True)
        except DoesNotExist:
            return None
        return StoredCredentials(user=_to_user(record), password_hash=record.password_hash)

    def replace_password_hash(self, user_id: str, password_hash: str) -> None:
        UserRecord(pk=user_pk(user_id)).update(
            actions=[UserRecord.password_hash.set(password_hash)], condition=UserRecord.pk.exists()
        )

    def change_role(self, current: User, role: Role, audit: AuditEvent) -> User:
        """Move a user from `current.role` to `role`; the admin tally moves with it, and never below one admin."""
        target = UserRecord(pk=user_pk(current.id))
        demoting = current.role is Role.ADMIN

        def build(writes: NamedWrites) -> None:
            writes.update(
                _ACCOUNT,
                target,
                actions=[UserRecord.role.set(role.value)],
                condition=UserRecord.role == current.role.value,
            )
            tally = TallyRecord(pk=ADMINS_TALLY)
            if demoting:
                writes.update(_ADMIN_TALLY, tally, actions=[TallyRecord.value.add(-1)], condition=TallyRecord.value > 1)
            else:
                writes.update(_ADMIN_TALLY, tally, actions=[TallyRecord.value.add(1)])
            self._outbox.stage(writes, audit)

        run_transaction(
            self._connection,
            build,
            {
                _ADMIN_TALLY: lambda: ConflictError("The last admin cannot be demoted."),
                _ACCOUNT: lambda: ConflictError("The user's role changed concurrently; retry."),
            },
        )
        return current.model_copy(update={"role": role})

    def list(self, limit: int, cursor: str | None) -> Page[User]:
        start: dict[str, Any] | None = None
        if cursor:
            key = decode_cursor(cursor, _DIRECTORY_QUERY, _DIRECTORY_KEY_FIELDS)
            start = dynamodb_key({**key, "directory": DIRECTORY})
        results = UserRecord.directory_index.query(
            DIRECTORY, limit=limit + 1, page_size=limit + 1, last_evaluated_key=start
        )
        records = list(results)
        next_cursor = None
        if len(records) > limit:
            records = records[:limit]
            last = records[-1]
            next_cursor = encode_cursor(_DIRECTORY_QUERY, {"pk": last.pk, "directory_key": last.directory_key})
        return Page[User](items=[_to_user(r) for r in records], next_cursor=next_cursor, total=self.count())

    def count(self) -> int:
        try:
            return int(TallyRecord.get(ALL_USERS_TALLY).value)
        except DoesNotExist:
            return 0
