"""Opaque cursors: the last returned item's key, bound to the query that produced it.

A cursor holds no partition key: the owner comes from the request, so a tampered cursor can only
move the start within the caller's own data, never into another user's.
"""

from __future__ import annotations

import base64
import binascii
import json

from watchlist_core.errors import InvalidInputError

MAX_KEY_PART_LENGTH = 1024
_CURSOR_FIELD = ("query", "cursor")


def encode_cursor(query_id: str, key: dict[str, str]) -> str:
    raw = json.dumps({"q": query_id, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query_id: str, key_fields: tuple[str, ...]) -> dict[str, str]:
    """Return the key the cursor holds, or raise InvalidInputError when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as error:  # RecursionError: nested too deep
        raise InvalidInputError("The cursor is malformed.", field=_CURSOR_FIELD) from error
    if not isinstance(payload, dict):  # ours are objects (Python 3.13 parses nesting 3.11 refused: a list here)
        raise InvalidInputError("The cursor is malformed.", field=_CURSOR_FIELD)
    if payload.get("q") != query_id:
        raise InvalidInputError(
            "The cursor belongs to another query; keep the same filters and sort when paging.",
            field=_CURSOR_FIELD,
        )
    key = payload.get("k")
    if (
        not isinstance(key, dict)
        or set(key) != set(key_fields)
        or not all(isinstance(part, str) and 0 < len(part) <= MAX_KEY_PART_LENGTH for part in key.values())
    ):
        raise InvalidInputError("The cursor is malformed.", field=_CURSOR_FIELD)
    return key


def dynamodb_key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    """A plain string key in the attribute-value form DynamoDB's ExclusiveStartKey takes."""
    return {name: {"S": value} for name, value in key.items()}
