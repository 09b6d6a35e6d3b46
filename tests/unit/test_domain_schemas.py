"""watchlist_core/domain.py writes two of pydantic's annotations as the schemas they make (for the cold start):
the same validation, errors, serialization and JSON Schema as pydantic's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from pydantic import EmailStr, PlainSerializer, TypeAdapter, ValidationError

from watchlist_core import domain

PYDANTICS_TIMESTAMP: TypeAdapter[Any] = TypeAdapter(
    Annotated[datetime, PlainSerializer(domain.format_timestamp, return_type=str)]
)
OUR_TIMESTAMP: TypeAdapter[Any] = TypeAdapter(domain.Timestamp)
PYDANTICS_EMAIL: TypeAdapter[Any] = TypeAdapter(EmailStr)
OUR_EMAIL: TypeAdapter[Any] = TypeAdapter(Annotated[str, domain._EmailAddress()])


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_the_json_schemas_are_pydantics(mode: Any) -> None:
    assert OUR_TIMESTAMP.json_schema(mode=mode) == PYDANTICS_TIMESTAMP.json_schema(mode=mode)
    assert OUR_EMAIL.json_schema(mode=mode) == PYDANTICS_EMAIL.json_schema(mode=mode)


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))],
)
def test_a_timestamp_serializes_as_pydantics(moment: datetime) -> None:
    assert OUR_TIMESTAMP.dump_python(moment) == PYDANTICS_TIMESTAMP.dump_python(moment)
    assert OUR_TIMESTAMP.dump_json(moment) == PYDANTICS_TIMESTAMP.dump_json(moment)
    assert OUR_TIMESTAMP.dump_python(moment, mode="json") == domain.format_timestamp(moment)
    assert OUR_TIMESTAMP.validate_python("2026-01-02T03:04:05Z") == PYDANTICS_TIMESTAMP.validate_python(
        "2026-01-02T03:04:05Z"
    )


@pytest.mark.parametrize("address", ["alice@example.com", "Alice <ALICE@Example.COM>", "bob.smith@exämple.org"])
def test_an_address_validates_as_pydantics(address: str) -> None:
    assert OUR_EMAIL.validate_python(address) == PYDANTICS_EMAIL.validate_python(address)


@pytest.mark.parametrize("address", ["not an address", "a@b", "x" * 2050 + "@example.com", ""])
def test_a_refused_address_has_pydantics_errors(address: str) -> None:
    with pytest.raises(ValidationError) as ours:
        OUR_EMAIL.validate_python(address)
    with pytest.raises(ValidationError) as pydantics:
        PYDANTICS_EMAIL.validate_python(address)
    assert ours.value.errors() == pydantics.value.errors()


def test_the_models_address_fields_still_read_addresses() -> None:
    with pytest.raises(ValidationError, match="value is not a valid email address"):
        domain.Registration.model_validate({"email": "nobody", "password": "a long unusual passphrase"})
    registration = domain.Registration.model_validate(
        {"email": " Alice@Example.COM", "password": "a long unusual pass"}
    )
    assert registration.email == "alice@example.com"
