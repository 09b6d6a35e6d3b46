"""The mail function's side of account mail: what a request becomes (perhaps nothing), with a link's token minted as
the mail is sent, through SES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from watchlist_core.domain import User
from watchlist_core.mail.jobs import MailJob, NoticeMail, PasswordResetMail, VerificationMail
from watchlist_core.mail.notices import Notice
from watchlist_core.mail.ses import SesMailer
from watchlist_core.observability import count
from watchlist_core.security.account_tokens import TokenPurpose, mint
from watchlist_core.storage.users import UserStore


@dataclass(frozen=True)
class LinkPolicy:
    links_url: str  # the front end's base URL, configured: never a request's Host
    reset_ttl: timedelta
    verification_ttl: timedelta
    interval: timedelta  # between two mails of one kind with a token to one account


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


_NOTICES = {
    Notice.PASSWORD_CHANGED: (
        "Your Watchlist password was changed",
        "The password of your Watchlist account was changed, and every other signed-in device was signed out.",
    ),
    Notice.PASSWORD_RESET: (
        "Your Watchlist password was reset",
        "The password of your Watchlist account was reset through a link mailed to you, and every signed-in device "
        "was signed out.",
    ),
    Notice.EMAIL_CHANGED: (
        "Your Watchlist e-mail address was changed",
        "The e-mail address of your Watchlist account was changed: mail for it no longer comes to this address.",
    ),
}
_NOT_YOU = "If this was not you, reset your password now from the sign-in page, or contact us."


class MailDelivery:
    """The mail function's side: what a request becomes (perhaps nothing), sent through SES."""

    def __init__(self, users: UserStore, mailer: SesMailer, policy: LinkPolicy) -> None:
        self._users = users
        self._mailer = mailer
        self._policy = policy

    def deliver(self, job: MailJob) -> bool:
        """True when a mail went out; False when there was none to send (no such account, a deactivated one, one
        mailed a token a moment ago). SES errors propagate: MailRefusedError for good, any other for a retry."""
        mail = self._compose(job)
        if mail is None:
            count("MailSkipped", kind=job.kind)
            return False
        self._mailer.send(mail.to, mail.subject, mail.text)
        count("MailSent", kind=job.kind)
        return True

    def _compose(self, job: MailJob) -> Mail | None:
        if isinstance(job, NoticeMail):
            subject, what = _NOTICES[job.notice]
            return Mail(job.to, subject, f"{what}\n\n{_NOT_YOU}\n")
        if isinstance(job, PasswordResetMail):
            stored = self._users.find_credentials(job.email)
            return self._reset_mail(stored.user) if stored and stored.user.active else None
        if isinstance(job, VerificationMail):
            user = self._users.get(job.user_id)
            return self._verification_mail(user) if user and user.active and not user.email_verified else None
        raise TypeError(f"unknown mail job {job!r}")

    def _reset_mail(self, user: User) -> Mail | None:
        link = self._link(TokenPurpose.PASSWORD_RESET, user, "reset", self._policy.reset_ttl)
        if link is None:
            return None
        minutes = int(self._policy.reset_ttl.total_seconds() // 60)
        return Mail(
            user.email,
            "Reset your Watchlist password",
            f"Someone, hopefully you, asked to reset the password of the Watchlist account of {user.email}.\n\n"
            f"Choose a new password here within {minutes} minutes (the link works once):\n{link}\n\n"
            "If you did not ask for this, ignore this mail: your password stays as it is.\n",
        )

    def _verification_mail(self, user: User) -> Mail | None:
        link = self._link(TokenPurpose.EMAIL_VERIFICATION, user, "verify", self._policy.verification_ttl)
        if link is None:
            return None
        hours = int(self._policy.verification_ttl.total_seconds() // 3600)
        return Mail(
            user.email,
            "Confirm your e-mail address for Watchlist",
            f"Confirm that {user.email} is the address of your Watchlist account (within {hours} hours; the link "
            f"works once):\n{link}\n\nIf you have no Watchlist account, ignore this mail.\n",
        )

    def _link(self, purpose: TokenPurpose, user: User, page: str, ttl: timedelta) -> str | None:
        """A new token of `purpose` stored for the account (replacing the one before), as a link to the front end's
        `page`; None when the account was mailed one less than the interval ago, or changed its address meanwhile."""
        minted = mint(purpose, user.id)
        if not self._users.store_token(purpose, user, minted, ttl, self._policy.interval):
            return None
        return f"{self._policy.links_url.rstrip('/')}/{page}?{urlencode({'token': minted.token})}"
