"""What happened to an account, told to its address after the fact (a mail request's `notice`)."""

from __future__ import annotations

from enum import StrEnum


class Notice(StrEnum):
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a notice's name)
    PASSWORD_RESET = "password_reset"  # noqa: S105
    EMAIL_CHANGED = "email_changed"
