"""Domain objects and the validation rules that belong to them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, PlainSerializer, model_validator


def normalize_email(email: str) -> str:
    """E-mail addresses are unique case-insensitively: stored and compared in lower case."""
    return email.strip().lower()


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
Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_control_characters)]


class StrictInput(BaseModel):
    """Input models reject unknown fields, so a stray `role` is refused, never honoured."""

    model_config = ConfigDict(extra="forbid")


class Registration(StrictInput):
    email: EmailStr
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


class ItemDraft(StrictInput):
    title: Title
    type: ItemType
    year: Year | None = None
    status: ItemStatus = ItemStatus.PLANNED
    rating: Rating | None = None
    notes: Notes | None = None


class ItemChanges(StrictInput):
    """A partial update: only the fields present are changed; `null` clears an optional field."""

    title: Title | None = None
    type: ItemType | None = None
    year: Year | None = None
    status: ItemStatus | None = None
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


class User(BaseModel):
    id: str
    email: str
    display_name: str
    role: Role
    created_at: Timestamp


class WatchlistItem(BaseModel):
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


class Page[T](BaseModel):
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
