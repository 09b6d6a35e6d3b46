"""What the API asks the mail function to send: one versioned message per mail, on the mail queue.

A request names whom to write to, never a token: tokens are minted by the mail function as it sends, so no queue,
dead-letter queue or log ever holds one. A reset request names only the address typed in: whether it has an
account is found out there, out of the request's time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from watchlist_core.domain import Timestamp, utc_now
from watchlist_core.mail.notices import Notice


class _Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    id: str = Field(default_factory=lambda: str(ULID()))
    requested_at: Timestamp = Field(default_factory=utc_now)


class PasswordResetMail(_Job):
    kind: Literal["password_reset"] = "password_reset"
    email: str  # normalized; perhaps no account's


class VerificationMail(_Job):
    kind: Literal["email_verification"] = "email_verification"
    user_id: str  # to the account's address as it is when the mail is sent


class NoticeMail(_Job):
    kind: Literal["notice"] = "notice"
    notice: Notice
    to: str  # the address at the time of the change (for an e-mail change: the old one)
    user_id: str


MailJob = Annotated[PasswordResetMail | VerificationMail | NoticeMail, Field(discriminator="kind")]
