"""Getting back into an account, and proving its address: password reset and e-mail verification by mailed links.

Both redeem a token the mail function minted (security/account_tokens.py): found by the user id it carries, checked
against the stored digest, used up in a conditional write, so of two uses at once exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable

from watchlist_core.audit.events import new_event, user_target
from watchlist_core.audit.message import AuditAction
from watchlist_core.domain import User, normalize_email
from watchlist_core.errors import InvalidTokenError
from watchlist_core.mail.notices import Notice
from watchlist_core.security.account_tokens import PresentedToken, TokenPurpose, presented
from watchlist_core.security.passwords import PasswordHasher
from watchlist_core.services.account_mail import MailRequests
from watchlist_core.services.audit_delivery import AuditTrail
from watchlist_core.services.ports import DataChangeListener
from watchlist_core.storage.users import INVALID_TOKEN, Account, UserStore


class AccountRecovery:
    def __init__(
        self,
        users: UserStore,
        passwords: PasswordHasher,
        mail: MailRequests,
        audit: AuditTrail,
        changes: DataChangeListener,
        end_sessions: Callable[[str], None],
        forgive_failed_logins: Callable[[str], None],
    ) -> None:
        self._users = users
        self._passwords = passwords
        self._mail = mail
        self._audit = audit
        self._changes = changes
        self._end_sessions = end_sessions
        self._forgive_failed_logins = forgive_failed_logins

    def forgot(self, email: str) -> None:
        """Queues a reset mail for the address, whoever has it, if anyone: the same work either way."""
        self._mail.password_reset(normalize_email(email))

    def reset(self, token: str, new_password: str) -> None:
        """A new password through a mailed link: every session of the account ends, its address counts as verified,
        no one is signed in, a notice goes to the address. Strangers' failed guesses so far are forgiven: the reset
        is the way in for a new device they hold back."""
        account, present = self._redeeming(token)
        account.redeemable(TokenPurpose.PASSWORD_RESET, present)  # before the hashing's cost
        user = account.user
        event = new_event(AuditAction.PASSWORD_RESET, actor_id=user.id, target=user_target(user.id))
        self._users.reset_password(account, present, self._passwords.hash(new_password), event)
        self._audit.publish_committed(event)
        self._end_sessions(user.id)
        self._changes.user_data_changed(user.id)
        self._forgive_failed_logins(user.email)
        self._mail.notice(Notice.PASSWORD_RESET, user.email, user.id)

    def request_verification(self, user: User) -> None:
        """Mails a verification link to the account's address (none when it is verified already)."""
        if not user.email_verified:
            self._mail.verification(user.id)

    def confirm_verification(self, token: str) -> None:
        account, present = self._redeeming(token)
        user = account.user
        event = new_event(AuditAction.EMAIL_VERIFIED, actor_id=user.id, target=user_target(user.id))
        self._users.confirm_email(account, present, event)
        self._audit.publish_committed(event)
        self._changes.user_data_changed(user.id)

    def _redeeming(self, token: str) -> tuple[Account, PresentedToken]:
        """The active account the token names, and the token's parts; InvalidTokenError, alike, for anything else."""
        present = presented(token)
        account = self._users.account(present.user_id) if present else None
        if present is None or account is None or not account.user.active:
            raise InvalidTokenError(INVALID_TOKEN)
        return account, present
