"""The API's side of account mail: requests for it, queued, never failing the request that makes one.

A request is queued, not sent: a reset request costs the same whether its address has an account or not, and SES
being slow or down is the mail function's to wait out (services/mail_delivery.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchlist_core.mail.notices import Notice
from watchlist_core.observability import count, logger
from watchlist_core.queues import MailQueue

if TYPE_CHECKING:
    from watchlist_core.mail.jobs import MailJob


class MailRequests:
    """One SendMessage per mail. The requests' models are imported at the first one: they are pydantic models whose
    building no cold start of a request without mail should pay."""

    def __init__(self, queue: MailQueue) -> None:
        self._queue = queue

    def password_reset(self, email: str) -> None:
        from watchlist_core.mail.jobs import PasswordResetMail

        self._request(PasswordResetMail(email=email))

    def verification(self, user_id: str) -> None:
        from watchlist_core.mail.jobs import VerificationMail

        self._request(VerificationMail(user_id=user_id))

    def notice(self, notice: Notice, to: str, user_id: str) -> None:
        from watchlist_core.mail.jobs import NoticeMail

        self._request(NoticeMail(notice=notice, to=to, user_id=user_id))

    def _request(self, job: MailJob) -> None:
        """Queued, or logged and counted (MailRequestUnsent): a request never fails for its mail."""
        if not self._queue.send(job):
            count("MailRequestUnsent", kind=job.kind)
            logger.error("mail request not queued", extra={"mail_kind": job.kind, "mail_id": job.id})
