"""Domain objects and the validation rules that belong to them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache, partial
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    RootModel,
    Strict,
    model_validator,
)


def normalize_email(email: str) -> str:
    """E-mail addresses are stored and compared after Unicode NFKC and case folding: a full-width `alice@` and
    `ALICE@` are `alice@`."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


# Unicode TS #39's "highly restrictive" level: one script, or Latin with the Han-based sets of Japanese, Chinese and
# Korean writing. Common and Inherited characters (digits, punctuation, marks) go with any.
_SCRIPTS_WRITTEN_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _single_script_local_part(email: str) -> str:
    """Refuses a local part that mixes scripts as no one writes (a Cyrillic a among Latin letters): a lookalike
    of another address."""
    from confusable_homoglyphs import categories  # on registration and e-mail changes only: kept off cold starts

    scripts = {categories.alias(character) for character in email.rsplit("@", 1)[0]} - {"COMMON", "INHERITED"}
    if len(scripts) > 1 and not any(scripts <= together for together in _SCRIPTS_WRITTEN_TOGETHER):
        raise ValueError(f"the address mixes scripts ({', '.join(sorted(scripts))}): a lookalike of another")
    return email


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class ItemType(StrEnum):
    MOVIE = "movie"
    SHOW = "show"


class ItemStatus(StrEnum):
    PLANNED = "planned"
    WATCHING = "watching"
    COMPLETED = "completed"
    DROPPED = "dropped"


class ItemSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    TITLE = "title"
    TITLE_DESC = "-title"
    RATING = "rating"
    RATING_DESC = "-rating"
    YEAR = "year"
    YEAR_DESC = "-year"

    @classmethod
    def _missing_(cls, value: object) -> ItemSort | None:
        """The original Watchlist API's names, read as the sorts they are (and so one query, one cursor)."""
        return LEGACY_ITEM_SORTS.get(str(value))

    @property
    def field(self) -> str:
        return self.value.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


# Kept out of the OpenAPI document's enum (new clients use the names above); accepted wherever an ItemSort is.
LEGACY_ITEM_SORTS = {"created_at_desc": ItemSort.CREATED_AT_DESC, "created_at_asc": ItemSort.CREATED_AT}

FIRST_FILM_YEAR = 1870


def _not_after_next_year(year: int | None) -> int | None:
    if year is not None and year > utc_now().year + 1:
        raise ValueError(f"year must be at most {utc_now().year + 1}")
    return year


def _no_control_characters(text: str, allowed: str = "") -> str:
    if any(unicodedata.category(character) == "Cc" and character not in allowed for character in text):
        raise ValueError("control characters are not allowed" + (f" (but {allowed!r})" if allowed else ""))
    return text


Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]
Year = Annotated[int, Field(ge=FIRST_FILM_YEAR), AfterValidator(_not_after_next_year)]
Rating = Annotated[int, Field(ge=1, le=10)]
Notes = Annotated[str, Field(max_length=2000), AfterValidator(partial(_no_control_characters, allowed="\n\r\t"))]


def _not_only_whitespace(password: str) -> str:
    if not password.strip():
        raise ValueError("a password of only spaces is no password")
    return password


COMMON_PASSWORDS = 10_000  # OWASP ASVS 5.0 6.2.4 asks for at least the 3,000 most common


@cache
def _common_passwords() -> frozenset[str]:
    """The most common passwords, most common first in zxcvbn's list (from leaked password sets), lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # new passwords only: kept off cold starts

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS])


def _not_common(password: str) -> str:
    if password.casefold() in _common_passwords():
        raise ValueError(f"this password is among the {COMMON_PASSWORDS:,} most common ones: guessers try it first")
    return password


# A new password: no control characters (a NUL is no typed character), not only whitespace, not a common one.
Password = Annotated[
    str,
    Field(min_length=8, max_length=128),
    AfterValidator(_no_control_characters),
    AfterValidator(_not_only_whitespace),
    AfterValidator(_not_common),
]
Email = Annotated[
    EmailStr,
    BeforeValidator(lambda value: normalize_email(value) if isinstance(value, str) else value),
    AfterValidator(_no_control_characters),
    AfterValidator(_single_script_local_part),
]
DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_control_characters)]


class Model(BaseModel):
    """The project's models, each built (its schema, validator and serializer) at its first use rather than at import:
    a cold start's first request builds the models it uses and no other, and the routes' request and response fields
    that FastAPI makes of them wait as long (pydantic's `defer_build`). SnapStart's snapshot builds them all
    (`build_models`)."""

    model_config = ConfigDict(defer_build=True)


def build_models() -> None:
    """Builds every model defined so far (of the modules imported), as their first use would: for SnapStart's snapshot,
    which should hold what a restored instance's first request would otherwise build."""
    pending: list[type[Model]] = [Model]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model is not Model:
            model.model_rebuild()


class StrictInput(Model):
    """Input models reject unknown fields, so a stray `role` is refused, never honoured; and every value of the
    wrong JSON type (`true` for a number, `"2001"` for a year), never coerced. Enumerations, which JSON can only
    send as strings, are read from them (`Lax`).

    Built at import, unlike the other models: FastAPI builds a request body's field under a filter of pydantic's
    warning about the field's alias, which a build deferred to the first request would escape and print."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=False)


Lax = Strict(False)


class Registration(StrictInput):
    email: Email
    password: Password
    display_name: DisplayName | None = None


class Credentials(StrictInput):
    email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_control_characters)]
    password: str = Field(min_length=1, max_length=128)
    device_token: str | None = Field(
        default=None,
        max_length=2048,
        description="The `device_token` of an earlier sign-in to this account: others' failed guesses never hold "
        "this client back.",
    )


class PasswordChange(StrictInput):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password


class AccountDeletion(StrictInput):
    """The caller's own account deleted: their current password confirms it."""

    current_password: str = Field(min_length=1, max_length=128)


class ProfileChanges(StrictInput):
    """The caller's own profile: only the fields present change. A new `email` needs `current_password`."""

    display_name: DisplayName | None = None
    email: Email | None = None
    current_password: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _fields_are_not_cleared(self) -> ProfileChanges:
        for field in ("display_name", "email"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        if self.email is not None and self.current_password is None:
            raise ValueError("changing email needs current_password")
        return self


class PasswordForgotten(StrictInput):
    email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_control_characters)]


class PasswordReset(StrictInput):
    token: str = Field(min_length=1, max_length=512)
    new_password: Password


class VerificationConfirmation(StrictInput):
    token: str = Field(min_length=1, max_length=512)


class ItemDraft(StrictInput):
    title: Title
    type: Annotated[ItemType, Lax]
    year: Year | None = None
    status: Annotated[ItemStatus, Lax] = ItemStatus.PLANNED
    rating: Rating | None = None
    notes: Notes | None = None


class ItemChanges(StrictInput):
    """A partial update: only the fields present are changed; `null` clears an optional field."""

    title: Title | None = None
    type: Annotated[ItemType | None, Lax] = None
    year: Year | None = None
    status: Annotated[ItemStatus | None, Lax] = None
    rating: Rating | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> ItemChanges:
        for required in ("title", "type", "status"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changed_fields(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class User(Model):
    id: str
    email: str
    display_name: str
    role: Role
    created_at: Timestamp
    active: bool = Field(default=True, description="False: deactivated by an admin (it cannot sign in)")
    email_verified: bool = Field(
        default=False, description="Whether the address was confirmed by a link mailed to it (or a password reset)"
    )


class SessionInfo(Model):
    """One of the caller's live sessions (sign-ins), as they see it in their list."""

    id: str
    created_at: Timestamp | None = Field(description="When it began; null for one begun before sessions recorded it")
    last_used_at: Timestamp | None = Field(description="When its tokens were last issued: its sign-in or last refresh")
    user_agent: str | None
    source_ip: str | None
    current: bool = Field(description="The session of the token this request was made with")


class SessionList(RootModel[list[SessionInfo]]):
    """The caller's live sessions, newest first."""


class WatchlistItem(Model):
    id: str
    title: str
    type: ItemType
    year: int | None = None
    status: ItemStatus
    rating: int | None = None
    notes: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class Page[T](Model):
    items: list[T]
    next_cursor: str | None
    total: int


@dataclass(frozen=True)
class ItemQuery:
    """What a list request asks for; a cursor or an offset (`skip`) picks the page."""

    type: ItemType | None = None
    status: ItemStatus | None = None
    sort: ItemSort = ItemSort.CREATED_AT_DESC
    limit: int = 20
    cursor: str | None = None
    skip: int = 0


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    device_token: str | None = None  # a sign-in's; a refresh issues none
