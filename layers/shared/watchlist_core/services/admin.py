"""What admins do: manage roles and moderate any user's watchlist."""

from __future__ import annotations

from watchlist_core.domain import ItemQuery, Page, Role, User, WatchlistItem
from watchlist_core.errors import NotFoundError
from watchlist_core.services.changes import DataChangeListener
from watchlist_core.services.watchlist import WatchlistService
from watchlist_core.storage.users import UserStore


class AdminService:
    def __init__(self, users: UserStore, watchlists: WatchlistService, changes: DataChangeListener) -> None:
        self._users = users
        self._watchlists = watchlists
        self._changes = changes

    def list_users(self, limit: int, cursor: str | None) -> Page[User]:
        return self._users.list(limit, cursor)

    def change_role(self, user_id: str, role: Role) -> User:
        changed = self._users.change_role(user_id, role)
        self._changes.user_data_changed(user_id)  # their cached /me shows the role
        return changed

    def user_watchlist(self, user_id: str, query: ItemQuery) -> Page[WatchlistItem]:
        self._existing(user_id)
        return self._watchlists.list(user_id, query)

    def delete_item(self, user_id: str, item_id: str) -> None:
        self._existing(user_id)
        self._watchlists.remove(user_id, item_id)

    def _existing(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError("No such user.")
        return user
