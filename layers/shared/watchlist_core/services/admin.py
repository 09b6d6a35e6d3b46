"""What admins do: manage roles, delete accounts and moderate any user's watchlist."""

from __future__ import annotations

from collections.abc import Callable

from watchlist_core.audit.events import new_event, role_changed, user_target
from watchlist_core.audit.message import AuditAction, FieldChange
from watchlist_core.audit.queries import AuditPage, AuditQuery
from watchlist_core.domain import ItemQuery, Page, Role, User, WatchlistItem
from watchlist_core.errors import NotFoundError
from watchlist_core.services.accounts import AccountService
from watchlist_core.services.audit_delivery import AuditTrail
from watchlist_core.services.ports import DataChangeListener
from watchlist_core.services.watchlist import WatchlistService
from watchlist_core.storage.audit_events import AuditEventStore
from watchlist_core.storage.users import UserStore


class AdminService:
    def __init__(
        self,
        users: UserStore,
        watchlists: WatchlistService,
        changes: DataChangeListener,
        audit: AuditTrail,
        audit_events: AuditEventStore,
        end_sessions: Callable[[str], None],
        accounts: AccountService,
    ) -> None:
        self._users = users
        self._end_sessions = end_sessions
        self._accounts = accounts
        self._watchlists = watchlists
        self._changes = changes
        self._audit = audit
        self._audit_events = audit_events

    def list_users(self, limit: int, cursor: str | None) -> Page[User]:
        return self._users.list(limit, cursor)

    def change_role(self, admin_id: str, user_id: str, role: Role) -> User:
        current = self._existing(user_id)
        if current.role is role:
            return current
        event = role_changed(admin_id, current, role)
        changed = self._users.change_role(current, role, event)
        self._changes.user_data_changed(user_id)  # their cached /me shows the role
        self._audit.publish_committed(event)
        return changed

    def set_active(self, admin_id: str, user_id: str, active: bool) -> User:
        """Deactivated, the account's tokens stop at once (every session ends) and it cannot sign in, as with a wrong
        password; never the last active admin. Reactivated, it may sign in again."""
        current = self._existing(user_id)
        if current.active is active:
            return current
        event = new_event(
            AuditAction.ACCOUNT_REACTIVATED if active else AuditAction.ACCOUNT_DEACTIVATED,
            actor_id=admin_id,
            target=user_target(user_id),
            changes={"active": FieldChange(old=current.active, new=active)},
        )
        changed = self._users.set_active(current, active, event)
        if not active:
            self._end_sessions(user_id)
        self._changes.user_data_changed(user_id)
        self._audit.publish_committed(event)
        return changed

    def delete_user(self, admin_id: str, user_id: str) -> None:
        """As its owner deletes it (AccountService.delete), without a password; never the last active admin."""
        self._accounts.delete(admin_id, self._existing(user_id))

    def user_watchlist(self, user_id: str, query: ItemQuery) -> Page[WatchlistItem]:
        self._existing(user_id)
        return self._watchlists.list(user_id, query)

    def delete_item(self, admin_id: str, user_id: str, item_id: str) -> None:
        self._existing(user_id)
        self._watchlists.remove(user_id, item_id, moderator_id=admin_id)

    def audit_trail(self, query: AuditQuery) -> AuditPage:
        return self._audit_events.list(query)

    def _existing(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError("No such user.")
        return user
