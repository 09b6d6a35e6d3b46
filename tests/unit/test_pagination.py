import base64

import pytest

from watchlist_core.errors import InvalidInputError
from watchlist_core.storage.pagination import decode_cursor, encode_cursor


def test_a_cursor_round_trips_for_its_own_query() -> None:
    cursor = encode_cursor("title||", {"item_id": "A", "title_key": "alien\x00A"})
    assert decode_cursor(cursor, "title||", ("item_id", "title_key")) == {"item_id": "A", "title_key": "alien\x00A"}


@pytest.mark.parametrize(
    ("cursor", "fields"),
    [
        (encode_cursor("other||", {"item_id": "A"}), ("item_id",)),
        (encode_cursor("title||", {"item_id": "A"}), ("item_id", "title_key")),
        (encode_cursor("title||", {"item_id": "A", "user_id": "victim"}), ("item_id",)),
        (encode_cursor("title||", {"item_id": ""}), ("item_id",)),
        (encode_cursor("title||", {"item_id": "x" * 1025}), ("item_id",)),
        ("not base64 at all ~~", ("item_id",)),
        ("bnVsbA", ("item_id",)),
    ],
    ids=["other-query", "missing-field", "extra-partition-key", "empty", "too-long", "garbage", "json-null"],
)
def test_foreign_or_tampered_cursors_are_invalid_input(cursor: str, fields: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        decode_cursor(cursor, "title||", fields)
    assert raised.value.field == ("query", "cursor")


def test_a_cursor_nested_too_deep_is_malformed_not_a_crash() -> None:
    deep = base64.urlsafe_b64encode(("[" * 1000 + "]" * 1000).encode()).decode()
    with pytest.raises(InvalidInputError, match="malformed"):
        decode_cursor(deep, "query", ("id",))
