"""Data access for user accounts, their e-mail claims and the user and admin tallies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path

from watchlist_core.audit.message import AuditEvent
from watchlist_core.domain import Page, Role, User, normalize_email
from watchlist_core.errors import ConflictError, InvalidTokenError
from watchlist_core.security.account_tokens import MintedToken, PresentedToken, TokenPurpose
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.shards import Moved, query_in_order, shard_key, shard_keys
from watchlist_core.storage.tables import (
    AccountTokenAttribute,
    DirectoryEntryRecord,
    EmailClaimRecord,
    TallyRecord,
    UserRecord,
)
from watchlist_core.storage.transactions import NamedWrites, conditional_write, run_transaction

USER_PREFIX = "USER#"
EMAIL_PREFIX = "EMAIL#"
DIRECTORY_PREFIX = "DIR#"
# The directory and the user tally are written once per registration: eight shards each take 8,000 a second.
# Their bare keys hold what was stored before they were sharded, until infra/aws/migrate_keys.py moves it.
DIRECTORY = "USER"
ALL_USERS_TALLY = "TALLY#users"
USER_SHARDS = 8
# Changed by admins only, one at a time: one item, so that "never below one admin" is one condition.
ADMINS_TALLY = "TALLY#admins"
_DIRECTORY_QUERY = "users"
# The writes of an account's transactions, by name (storage/transactions.py).
_EMAIL_CLAIM = "e-mail claim"
_ACCOUNT = "account"
_DIRECTORY_ENTRY = "directory entry"
_ADMIN_TALLY = "admin tally"
_USER_TALLY = "user tally"
_LEGACY_USER_TALLY = "user tally, bare key"
_OLD_EMAIL_CLAIM = "old e-mail claim"
_EMAIL_TAKEN = "An account with this e-mail address already exists."
_CHANGED_CONCURRENTLY = "The account changed concurrently; retry."
INVALID_TOKEN = "The link is unknown, used, expired or not for this; ask for a new one."  # noqa: S105 (a message)
LAST_ADMIN = "The last active admin cannot be deleted."
NO_ACCOUNT = "-"  # a user id no ULID can be: the read an unknown address costs, like a known one's


def user_pk(user_id: str) -> str:
    return USER_PREFIX + user_id


@dataclass(frozen=True)
class StoredCredentials:
    user: User
    password_hash: str


@dataclass(frozen=True)
class Account:
    """An account as the token refresh and the mailed links need it: the user, which sessions its last password change
    ended, and its outstanding mailed tokens."""

    user: User
    sessions_ended_at: datetime | None
    session_kept: str | None
    tokens: dict[TokenPurpose, AccountTokenAttribute]

    def ended(self, session_id: str, session_began: datetime | None) -> bool:
        """Whether the password change ended this session (one begun before it, or of unknown age, but its own)."""
        if self.sessions_ended_at is None or session_id == self.session_kept:
            return False
        return session_began is None or session_began < self.sessions_ended_at

    def redeemable(self, purpose: TokenPurpose, token: PresentedToken) -> AccountTokenAttribute:
        """The stored token `token` is, unexpired; InvalidTokenError for anything else (all alike)."""
        stored = self.tokens.get(purpose)
        if stored is None or not token.matches(purpose, stored.digest) or stored.expires_at <= datetime.now(UTC):
            raise InvalidTokenError(INVALID_TOKEN)
        return stored


_TOKEN_ATTRIBUTES = {
    TokenPurpose.PASSWORD_RESET: UserRecord.password_reset_token,
    TokenPurpose.EMAIL_VERIFICATION: UserRecord.email_verification_token,
}


def _directory_entry(user: User) -> DirectoryEntryRecord:
    created_at = user.model_dump(mode="json")["created_at"]
    return DirectoryEntryRecord(
        pk=DIRECTORY_PREFIX + user.id,
        user_id=user.id,
        email=normalize_email(user.email),
        display_name=user.display_name,
        role=user.role.value,
        created_at=created_at,
        active=user.active,
        email_verified=user.email_verified,
        directory=shard_key(DIRECTORY, USER_SHARDS, user.id),
        directory_key=f"{created_at}#{user.id}",
    )


# What an account written before the directory had entries of its own still carries, until it is migrated.
_LEGACY_DIRECTORY_ATTRIBUTES = (Path("directory"), Path("directory_key"))


def _counts_as_admin(user: User) -> int:
    """What a user adds to the admin tally: the active admins, of whom there is always one."""
    return int(user.role is Role.ADMIN and user.active)


def _unchanged(current: User) -> Condition:
    """The stored account still has `current`'s role and is still as active: what the admin tally counted of it."""
    active = (
        (UserRecord.active.does_not_exist() | (UserRecord.active == True))  # noqa: E712
        if current.active
        else (UserRecord.active == False)  # noqa: E712
    )
    condition: Condition = (UserRecord.role == current.role.value) & active
    return condition


def _user_of(record: UserRecord | DirectoryEntryRecord) -> User:
    return User(
        id=record.user_id,
        email=record.email,
        display_name=record.display_name,
        role=Role(record.role),
        created_at=record.created_at,  # pydantic parses the stored RFC 3339 string
        active=record.active is not False,
        email_verified=record.email_verified is True,
    )


class UserStore:
    """Writes that change an account commit their audit event to the outbox in the same transaction."""

    def __init__(self, connection: Connection, outbox: OutboxStore, cursors: CursorCodec) -> None:
        self._connection = connection
        self._outbox = outbox
        self._cursors = cursors

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
        )
        claim = EmailClaimRecord(pk=EMAIL_PREFIX + record.email, user_id=user.id)

        def build(writes: NamedWrites) -> None:
            writes.put(_EMAIL_CLAIM, claim, condition=EmailClaimRecord.pk.does_not_exist())
            writes.put(_ACCOUNT, record, condition=UserRecord.pk.does_not_exist())
            writes.put(_DIRECTORY_ENTRY, _directory_entry(user))
            if user.role is Role.ADMIN:
                writes.update(_ADMIN_TALLY, TallyRecord(pk=ADMINS_TALLY), actions=[TallyRecord.value.add(1)])
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, {_EMAIL_CLAIM: lambda: ConflictError(_EMAIL_TAKEN)})
        # Outside the transaction on purpose: registrations would otherwise contend on the tally's few items.
        # The display total can drift only if the function dies between the two writes.
        TallyRecord(pk=shard_key(ALL_USERS_TALLY, USER_SHARDS, user.id)).update(actions=[TallyRecord.value.add(1)])
        return _user_of(record)

    def get(self, user_id: str) -> User | None:
        account = self.account(user_id)
        return account.user if account else None

    def account(self, user_id: str) -> Account | None:
        try:
            record = UserRecord.get(user_pk(user_id), consistent_read=True)
        except DoesNotExist:
            return None
        tokens = {
            purpose: stored
            for purpose, attribute in _TOKEN_ATTRIBUTES.items()
            if (stored := getattr(record, attribute.attr_name)) is not None
        }
        return Account(_user_of(record), record.sessions_ended_at, record.session_kept, tokens)

    def find_credentials(self, email: str) -> StoredCredentials | None:
        """Two consistent reads whether the address is known or not (the claim, then the account or a key no
        account has): the time of a sign-in tells nobody which addresses have accounts."""
        try:
            claim = EmailClaimRecord.get(EMAIL_PREFIX + normalize_email(email), consistent_read=True)
        except DoesNotExist:
            claim = None
        try:
            record = UserRecord.get(user_pk(claim.user_id if claim else NO_ACCOUNT), consistent_read=True)
        except DoesNotExist:
            return None
        return StoredCredentials(user=_user_of(record), password_hash=record.password_hash) if claim else None

    def change_password(
        self, user_id: str, verified_hash: str, password_hash: str, kept_session: str, audit: AuditEvent
    ) -> None:
        """A new password, chosen by its owner in `kept_session`, which alone of the sessions begun before it goes on;
        its audit event in the same transaction. Only if the password is still the one just verified (a reset in
        between wins: ConflictError); an outstanding reset link dies with the old password."""

        def build(writes: NamedWrites) -> None:
            writes.update(
                _ACCOUNT,
                UserRecord(pk=user_pk(user_id)),
                actions=[
                    UserRecord.password_hash.set(password_hash),
                    UserRecord.sessions_ended_at.set(datetime.now(UTC)),
                    UserRecord.session_kept.set(kept_session),
                    UserRecord.password_reset_token.remove(),
                ],
                condition=UserRecord.password_hash == verified_hash,
            )
            self._outbox.stage(writes, audit)

        run_transaction(
            self._connection, build, {_ACCOUNT: lambda: ConflictError("The password changed meanwhile; sign in again.")}
        )

    def store_token(
        self, purpose: TokenPurpose, user: User, minted: MintedToken, ttl: timedelta, interval: timedelta
    ) -> bool:
        """Makes `minted` the account's one token of `purpose` (the one before stops working), for the address the
        account has now; False, storing nothing, when the account changed its address or is gone, or when the last
        token of this purpose is younger than `interval` (its mailbox is not to be flooded)."""
        now = datetime.now(UTC)
        attribute = _TOKEN_ATTRIBUTES[purpose]
        token = AccountTokenAttribute(digest=minted.digest, email=user.email, issued_at=now, expires_at=now + ttl)
        return conditional_write(
            lambda: UserRecord(pk=user_pk(user.id)).update(
                actions=[attribute.set(token)],
                condition=(UserRecord.email == user.email)
                & (attribute.does_not_exist() | (attribute["issued_at"] <= now - interval)),
            )
        )

    def reset_password(self, account: Account, token: PresentedToken, password_hash: str, audit: AuditEvent) -> None:
        """The reset `token` used up: a new password, every session begun before it ended, and the address verified
        when the link went to the account's address; InvalidTokenError if another use came first."""
        stored = account.redeemable(TokenPurpose.PASSWORD_RESET, token)
        user = account.user.model_copy(
            update={"email_verified": account.user.email_verified or stored.email == account.user.email}
        )

        def build(writes: NamedWrites) -> None:
            writes.update(
                _ACCOUNT,
                UserRecord(pk=user_pk(user.id)),
                actions=[
                    UserRecord.password_hash.set(password_hash),
                    UserRecord.sessions_ended_at.set(datetime.now(UTC)),
                    UserRecord.session_kept.remove(),
                    UserRecord.password_reset_token.remove(),
                    UserRecord.email_verified.set(user.email_verified),
                ],
                condition=(UserRecord.password_reset_token["digest"] == stored.digest)
                & (UserRecord.email == account.user.email)
                & (UserRecord.role == user.role.value),
            )
            writes.put(_DIRECTORY_ENTRY, _directory_entry(user))
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, {_ACCOUNT: lambda: InvalidTokenError(INVALID_TOKEN)})

    def confirm_email(self, account: Account, token: PresentedToken, audit: AuditEvent) -> User:
        """The verification `token` used up, for the address it was mailed to, which must still be the account's."""
        stored = account.redeemable(TokenPurpose.EMAIL_VERIFICATION, token)
        if stored.email != account.user.email:
            raise InvalidTokenError(INVALID_TOKEN)
        user = account.user.model_copy(update={"email_verified": True})

        def build(writes: NamedWrites) -> None:
            writes.update(
                _ACCOUNT,
                UserRecord(pk=user_pk(user.id)),
                actions=[UserRecord.email_verified.set(True), UserRecord.email_verification_token.remove()],
                condition=(UserRecord.email_verification_token["digest"] == stored.digest)
                & (UserRecord.email == stored.email)
                & (UserRecord.role == user.role.value),
            )
            writes.put(_DIRECTORY_ENTRY, _directory_entry(user))
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, {_ACCOUNT: lambda: InvalidTokenError(INVALID_TOKEN)})
        return user

    def change_email(self, current: User, email: str, audit: AuditEvent) -> User:
        """The account moves to `email` (ConflictError when another account has it), unverified until a link mailed
        there is used; the old address is free at once; outstanding mailed tokens stop working."""
        changed = current.model_copy(update={"email": normalize_email(email), "email_verified": False})

        def build(writes: NamedWrites) -> None:
            writes.delete(
                _OLD_EMAIL_CLAIM,
                EmailClaimRecord(pk=EMAIL_PREFIX + current.email),
                condition=EmailClaimRecord.user_id == current.id,
            )
            writes.put(
                _EMAIL_CLAIM,
                EmailClaimRecord(pk=EMAIL_PREFIX + changed.email, user_id=current.id),
                condition=EmailClaimRecord.pk.does_not_exist(),
            )
            writes.update(
                _ACCOUNT,
                UserRecord(pk=user_pk(current.id)),
                actions=[
                    UserRecord.email.set(changed.email),
                    UserRecord.email_verified.set(False),
                    UserRecord.password_reset_token.remove(),
                    UserRecord.email_verification_token.remove(),
                    *(p.remove() for p in _LEGACY_DIRECTORY_ATTRIBUTES),
                ],
                condition=(UserRecord.email == current.email) & (UserRecord.role == current.role.value),
            )
            writes.put(_DIRECTORY_ENTRY, _directory_entry(changed))
            self._outbox.stage(writes, audit)

        concurrent = lambda: ConflictError(_CHANGED_CONCURRENTLY)  # noqa: E731
        run_transaction(
            self._connection,
            build,
            {_EMAIL_CLAIM: lambda: ConflictError(_EMAIL_TAKEN), _OLD_EMAIL_CLAIM: concurrent, _ACCOUNT: concurrent},
        )
        return changed

    def change_display_name(self, current: User, display_name: str, audit: AuditEvent) -> User:
        """The account and its directory entry, and the audit event, in one transaction."""
        changed = current.model_copy(update={"display_name": display_name})

        def build(writes: NamedWrites) -> None:
            writes.update(
                _ACCOUNT,
                UserRecord(pk=user_pk(current.id)),
                actions=[
                    UserRecord.display_name.set(display_name),
                    *(p.remove() for p in _LEGACY_DIRECTORY_ATTRIBUTES),
                ],
                condition=UserRecord.role == current.role.value,  # a role change in between: its entry stays true
            )
            writes.put(_DIRECTORY_ENTRY, _directory_entry(changed))
            self._outbox.stage(writes, audit)

        run_transaction(self._connection, build, {_ACCOUNT: lambda: ConflictError(_CHANGED_CONCURRENTLY)})
        return changed

    def replace_password_hash(self, user_id: str, password_hash: str) -> None:
        UserRecord(pk=user_pk(user_id)).update(
            actions=[UserRecord.password_hash.set(password_hash)], condition=UserRecord.pk.exists()
        )

    def change_role(self, current: User, role: Role, audit: AuditEvent) -> User:
        return self._change(current, current.model_copy(update={"role": role}), audit)

    def set_active(self, current: User, active: bool, audit: AuditEvent) -> User:
        """Deactivated, every session begun before ends (see `Account.ended`); reactivated, it may sign in again."""
        return self._change(current, current.model_copy(update={"active": active}), audit)

    def _change(self, current: User, changed: User, audit: AuditEvent) -> User:
        """The account moved from `current` to `changed` (its role, whether it is active), if no other change came
        first; the admin tally, which counts the active admins, moves with it and never below one. The directory
        entry is written whole, so an account stored before it had one is moved to it here."""
        actions: list[Any] = [
            UserRecord.role.set(changed.role.value),
            UserRecord.active.set(changed.active),
            *(path.remove() for path in _LEGACY_DIRECTORY_ATTRIBUTES),
        ]
        if current.active and not changed.active:
            actions += [UserRecord.sessions_ended_at.set(datetime.now(UTC)), UserRecord.session_kept.remove()]
        admins = _counts_as_admin(changed) - _counts_as_admin(current)

        def build(writes: NamedWrites) -> None:
            writes.update(_ACCOUNT, UserRecord(pk=user_pk(current.id)), actions=actions, condition=_unchanged(current))
            writes.put(_DIRECTORY_ENTRY, _directory_entry(changed))
            tally = TallyRecord(pk=ADMINS_TALLY)
            if admins < 0:
                writes.update(_ADMIN_TALLY, tally, actions=[TallyRecord.value.add(-1)], condition=TallyRecord.value > 1)
            elif admins > 0:
                writes.update(_ADMIN_TALLY, tally, actions=[TallyRecord.value.add(1)])
            self._outbox.stage(writes, audit)

        run_transaction(
            self._connection,
            build,
            {
                _ADMIN_TALLY: lambda: ConflictError("The last admin cannot be demoted or deactivated."),
                _ACCOUNT: lambda: ConflictError(_CHANGED_CONCURRENTLY),
            },
        )
        return changed

    def is_last_admin(self, user: User) -> bool:
        """Whether `user` is the only active admin: the admin tally, read strongly (a change committed a moment ago
        counts)."""
        if not _counts_as_admin(user):
            return False
        try:
            return int(TallyRecord.get(ADMINS_TALLY, consistent_read=True).value) <= 1
        except DoesNotExist:
            return True  # no tally yet: no other admin was ever counted

    def delete(self, current: User, audit: AuditEvent) -> None:
        """The account, its e-mail claim (the address can register again at once), its directory entry and its place
        in the tallies, gone in one transaction with its audit event; unless it changed meanwhile (its role, whether
        it is active, its address), and never the last active admin: the admin tally's condition holds that against
        admins deleted or demoted concurrently, which a check made before could not."""
        email = normalize_email(current.email)

        def build(writes: NamedWrites) -> None:
            writes.delete(
                _ACCOUNT,
                UserRecord(pk=user_pk(current.id)),
                condition=_unchanged(current) & (UserRecord.email == email),
            )
            claim = EmailClaimRecord(pk=EMAIL_PREFIX + email)
            writes.delete(_EMAIL_CLAIM, claim, condition=EmailClaimRecord.user_id == current.id)
            writes.delete(_DIRECTORY_ENTRY, DirectoryEntryRecord(pk=DIRECTORY_PREFIX + current.id))
            writes.update(
                _USER_TALLY,
                TallyRecord(pk=shard_key(ALL_USERS_TALLY, USER_SHARDS, current.id)),
                actions=[TallyRecord.value.add(-1)],
            )
            if _counts_as_admin(current):
                writes.update(
                    _ADMIN_TALLY,
                    TallyRecord(pk=ADMINS_TALLY),
                    actions=[TallyRecord.value.add(-1)],
                    condition=TallyRecord.value > 1,
                )
            self._outbox.stage(writes, audit)

        run_transaction(
            self._connection,
            build,
            {
                _ADMIN_TALLY: lambda: ConflictError(LAST_ADMIN),
                _ACCOUNT: lambda: ConflictError(_CHANGED_CONCURRENTLY),
                _EMAIL_CLAIM: lambda: ConflictError(_CHANGED_CONCURRENTLY),
            },
        )

    def list(self, limit: int, cursor: str | None) -> Page[User]:
        """Oldest first: one query per directory shard and one for the bare key, merged; then the tally."""
        after = self._cursors.decode(cursor, _DIRECTORY_QUERY, ("directory_key",))["directory_key"] if cursor else None
        records = query_in_order(
            DirectoryEntryRecord.directory_index,
            [*shard_keys(DIRECTORY, USER_SHARDS), DIRECTORY],
            lambda record: record.directory_key,
            limit=limit + 1,
            descending=False,
            range_key_condition=DirectoryEntryRecord.directory_key > after if after else None,
        )
        next_cursor = None
        if len(records) > limit:
            records = records[:limit]
            next_cursor = self._cursors.encode(_DIRECTORY_QUERY, {"directory_key": records[-1].directory_key})
        return Page[User](items=[_user_of(r) for r in records], next_cursor=next_cursor, total=self.count())

    def count(self) -> int:
        """The tally's shards and its bare key, read in one request; strongly, so that a migration moving the bare
        key's value into a shard is never seen counted twice or not at all."""
        keys = [*shard_keys(ALL_USERS_TALLY, USER_SHARDS), ALL_USERS_TALLY]
        return sum(int(tally.value) for tally in TallyRecord.batch_get(keys, consistent_read=True))

    def move_legacy_directory(self) -> Moved:
        """Each account under the directory's bare key gets its own entry and leaves the index, in one transaction,
        unless its role changed meanwhile (a role change moves it itself)."""
        result = Moved()
        for legacy in DirectoryEntryRecord.directory_index.query(DIRECTORY):

            def build(writes: NamedWrites, legacy: DirectoryEntryRecord = legacy) -> None:
                writes.update(
                    _ACCOUNT,
                    UserRecord(pk=legacy.pk),
                    actions=[path.remove() for path in _LEGACY_DIRECTORY_ATTRIBUTES],
                    condition=(UserRecord.role == legacy.role) & Path("directory").exists(),
                )
                writes.put(_DIRECTORY_ENTRY, _directory_entry(_user_of(legacy)))

            try:
                run_transaction(self._connection, build)
            except TransactWriteError:
                result.skipped += 1
                continue
            result.moved += 1
        return result

    def move_legacy_tally(self) -> Moved:
        """The bare tally's value is added to shard 0 and the bare item deleted, in one transaction, unless its value
        changed meanwhile: no registration is counted twice or lost."""
        try:
            legacy = TallyRecord.get(ALL_USERS_TALLY, consistent_read=True)
        except DoesNotExist:
            return Moved()
        value = int(legacy.value)
        shard = TallyRecord(pk=shard_keys(ALL_USERS_TALLY, USER_SHARDS)[0])

        def build(writes: NamedWrites) -> None:
            writes.update(_USER_TALLY, shard, actions=[TallyRecord.value.add(value)])
            writes.delete(_LEGACY_USER_TALLY, TallyRecord(pk=ALL_USERS_TALLY), condition=TallyRecord.value == value)

        try:
            run_transaction(self._connection, build)
        except TransactWriteError:
            return Moved(skipped=1)
        return Moved(moved=value)
