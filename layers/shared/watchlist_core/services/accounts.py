"""An account as a whole: everything of it exported for its owner, or deleted by its owner or an admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from watchlist_core.audit.events import new_event, user_target
from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.domain import AccountDeletion, Model, SessionInfo, Timestamp, User, WatchlistItem, utc_now
from watchlist_core.errors import ConflictError

if TYPE_CHECKING:
    # For the annotations only: the API imports this module at start for AccountExport (a route's response model),
    # and builds the service, with the stores and auth, at the first request that deletes or exports an account.
    from watchlist_core.security.tokens import AccessClaims
    from watchlist_core.services.audit_delivery import AuditTrail
    from watchlist_core.services.auth import AuthService
    from watchlist_core.services.ports import DataChangeListener
    from watchlist_core.storage.audit_events import AuditEventStore
    from watchlist_core.storage.items import ItemStore
    from watchlist_core.storage.users import UserStore


class AccountExport(Model):
    """Everything the API holds of the caller, in one document."""

    exported_at: Timestamp
    profile: User
    items: list[WatchlistItem] = Field(description="Every item, newest first")
    sessions: list[SessionInfo] = Field(description="The live sessions, as GET /v1/auth/sessions lists them")
    audit_events: list[AuditEvent] = Field(description="The caller's own actions (their actor_id), newest first")


class AccountService:
    def __init__(
        self,
        users: UserStore,
        items: ItemStore,
        auth: AuthService,
        audit_events: AuditEventStore,
        changes: DataChangeListener,
        audit: AuditTrail,
    ) -> None:
        self._users = users
        self._items = items
        self._auth = auth
        self._audit_events = audit_events
        self._changes = changes
        self._audit = audit

    def export(self, claims: AccessClaims) -> AccountExport:
        """The audit events are those stored so far: an action of a moment ago may not be among them yet."""
        user = self._auth.current_user(claims)
        return AccountExport(
            exported_at=utc_now(),
            profile=user,
            items=self._items.all_of(user.id),
            sessions=self._auth.sessions(claims).root,
            audit_events=self._audit_events.all_by_actor(user.id),
        )

    def delete_own(self, claims: AccessClaims, deletion: AccountDeletion, source_ip: str) -> None:
        """The caller's current password confirms it (a wrong one counts as a failed sign-in, throttled alike)."""
        user = self._auth.current_user(claims)
        self._auth.confirm_password(user, deletion.current_password, source_ip)
        self.delete(user.id, user, keep_session=claims.session_id)

    def delete(self, actor_id: str, user: User, keep_session: str | None = None) -> None:
        """The account and all its data, in an order that a deletion interrupted anywhere before the account is gone
        can be run again, by its owner (who can still sign in) or an admin, and finishes what the first began:

        1. never the last active admin (checked before anything is deleted; the account's transaction holds it);
        2. every session ends but `keep_session`, the owner's own: its tokens stop at once, and no other device of
           the user can write meanwhile;
        3. the items are purged, as many as one request has time for: a large watchlist takes several (DynamoDB
           writes one partition about 1,000 units a second), each a 503 with Retry-After, which the owner repeats
           with the same token;
        4. the account, its e-mail claim (the address can register again at once), its directory entry and its
           place in the tallies go in one transaction, with the audit event (`account.deleted`, no e-mail or name:
           the trail keeps its events under the user id alone);
        5. the items once more: one that a request admitted before step 2 wrote meanwhile (from step 4 on, no item
           can be written: every item write needs the owner's account), and every session, the kept one too.

        Idempotency records are keyed by a digest of the caller and key, so they cannot be found by user: they
        expire within 24 hours, and replay nothing meanwhile (the account's tokens are refused before them)."""
        from watchlist_core.storage.users import LAST_ADMIN  # loaded already: the module of self._users

        if self._users.is_last_admin(user):
            raise ConflictError(LAST_ADMIN)
        self._auth.end_sessions(user.id, keep=keep_session)
        self._items.purge(user.id)
        event = new_event(AuditAction.ACCOUNT_DELETED, actor_id=actor_id, target=user_target(user.id))
        self._users.delete(user, event)
        self._items.purge(user.id)
        self._auth.end_sessions(user.id)
        self._changes.user_data_changed(user.id)  # no cached answer about them is served again
        self._audit.publish_committed(event)
