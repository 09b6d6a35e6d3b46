"""Opaque cursors: the last returned item's key, sealed (encrypted and authenticated) and bound to the list it
came from.

A cursor holds no partition key: the owner comes from the request. It is sealed under a key of its own, derived
from the token signing key (so it rotates with it), and bound to a scope naming the list (whose items, which sort
and filters), so that a cursor altered by a single character, cut short, issued for another list or under
another key is refused (InvalidInputError, 422) before any DynamoDB request is made, and no item content (the
title a title sort's key starts with) travels in clear, in `next_cursor` or in `Link` URLs.

The format, base64url without padding: version (1 byte) | tag (16 bytes) | ciphertext. The plaintext is each key
part, in field-name order, as a 2-byte big-endian length and its UTF-8 bytes, zero-padded to a multiple of 32
bytes (a cursor's length tells a title's length to within 32 bytes only). It is sealed by a synthetic-IV scheme
(RFC 5297's construction, with HMAC-SHA256 for the MAC and the keystream, from hashlib and hmac alone: no
cryptography package on the cold start): tag = HMAC(MAC key, version | scope | plaintext), cut to 128 bits;
ciphertext = plaintext XOR HMAC(encryption key, tag | counter) blocks. It is deterministic, so the same page gives
the same cursor and the page's ETag holds. Keys: cursor key = HMAC-SHA256(signing key, "watchlist cursor key v1");
the encryption and MAC keys are HMACs of the cursor key with "encrypt" and "authenticate".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable

from watchlist_core.errors import InvalidInputError

# DynamoDB's limits in UTF-8 bytes: a cursor's parts are sort keys (a table's or an index's); the partition key
# (2,048 bytes) never travels in a cursor.
MAX_KEY_PART_BYTES = 1024
# The routers' `cursor` parameter takes this many characters: a title sort's longest cursor (a 1,024-byte title
# key and a ULID) is about 1,430.
MAX_CURSOR_LENGTH = 2048
CURSOR_KEY_LABEL = b"watchlist cursor key v1"
_VERSION = b"\x01"
_TAG_BYTES = 16
_BLOCK = 32  # SHA-256's output; also the padding unit
_LENGTH_BYTES = 2
_CURSOR_FIELD = ("query", "cursor")
_INVALID = (
    "The cursor is not valid for this list: it was altered, or issued for another list, sort or filters; page "
    "with the previous page's `next_cursor` and the same query, or start again without one."
)


def cursor_key(signing_key: str) -> bytes:
    """The cursors' own key: knowing it (or a cursor) tells nothing of the signing key."""
    return hmac.digest(signing_key.encode(), CURSOR_KEY_LABEL, hashlib.sha256)


class CursorCodec:
    """Seals and opens cursors under a key derived from `signing_key()`, read on each use: a rotated signing key
    takes effect at once, and every cursor sealed under the old one is refused."""

    def __init__(self, signing_key: Callable[[], str]) -> None:
        self._signing_key = signing_key
        self._derived: tuple[str, bytes, bytes] | None = None

    def encode(self, scope: str, key: dict[str, str]) -> str:
        """A cursor for `key` (a DynamoDB key of string parts), valid only for lists of this `scope`."""
        plaintext = b"".join(
            len(part).to_bytes(_LENGTH_BYTES, "big") + part for part in (key[name].encode() for name in sorted(key))
        )
        plaintext += bytes(-len(plaintext) % _BLOCK)
        encryption_key, mac_key = self._keys()
        tag = _tag(mac_key, scope, plaintext)
        sealed = _VERSION + tag + _xor(plaintext, _keystream(encryption_key, tag, len(plaintext)))
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def decode(self, cursor: str, scope: str, key_fields: tuple[str, ...]) -> dict[str, str]:
        """The key the cursor holds, or InvalidInputError when it is not one this codec sealed for `scope`. Touches
        nothing but memory."""
        sealed = _unpadded_base64(cursor)
        if sealed is None or not sealed.startswith(_VERSION) or not _sealed_length(len(sealed)):
            raise _invalid()
        tag, ciphertext = sealed[1 : 1 + _TAG_BYTES], sealed[1 + _TAG_BYTES :]
        encryption_key, mac_key = self._keys()
        plaintext = _xor(ciphertext, _keystream(encryption_key, tag, len(ciphertext)))
        if not hmac.compare_digest(tag, _tag(mac_key, scope, plaintext)):
            raise _invalid()
        # Sealed by us, so well formed; checked all the same, so that no part DynamoDB would refuse reaches it.
        parts, offset = [], 0
        for _ in key_fields:
            length = int.from_bytes(plaintext[offset : offset + _LENGTH_BYTES], "big")
            offset += _LENGTH_BYTES
            part = plaintext[offset : offset + length]
            offset += length
            if not 0 < length <= MAX_KEY_PART_BYTES or len(part) != length:
                raise _invalid()
            parts.append(part)
        if any(plaintext[offset:]):
            raise _invalid()
        try:
            return {name: part.decode() for name, part in zip(sorted(key_fields), parts, strict=True)}
        except UnicodeDecodeError as error:
            raise _invalid() from error

    def _keys(self) -> tuple[bytes, bytes]:
        signing_key = self._signing_key()
        derived = self._derived
        if derived is None or derived[0] != signing_key:
            root = cursor_key(signing_key)
            derived = (
                signing_key,
                hmac.digest(root, b"encrypt", hashlib.sha256),
                hmac.digest(root, b"authenticate", hashlib.sha256),
            )
            self._derived = derived
        return derived[1], derived[2]


def _sealed_length(length: int) -> bool:
    body = length - len(_VERSION) - _TAG_BYTES
    return body > 0 and body % _BLOCK == 0


def _tag(mac_key: bytes, scope: str, plaintext: bytes) -> bytes:
    scoped = scope.encode()
    message = _VERSION + len(scoped).to_bytes(4, "big") + scoped + plaintext
    return hmac.digest(mac_key, message, hashlib.sha256)[:_TAG_BYTES]


def _keystream(encryption_key: bytes, tag: bytes, length: int) -> bytes:
    blocks = (length + _BLOCK - 1) // _BLOCK
    return b"".join(hmac.digest(encryption_key, tag + n.to_bytes(4, "big"), hashlib.sha256) for n in range(blocks))


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[: len(data)], "big")).to_bytes(len(data), "big")


def _unpadded_base64(cursor: str) -> bytes | None:
    """The bytes of a canonical unpadded base64url string no longer than MAX_CURSOR_LENGTH; None for anything else
    (so that every other spelling of a cursor is refused too)."""
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == cursor else None


def _invalid() -> InvalidInputError:
    return InvalidInputError(_INVALID, field=_CURSOR_FIELD)


def dynamodb_key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    """A plain string key in the attribute-value form DynamoDB's ExclusiveStartKey takes."""
    return {name: {"S": value} for name, value in key.items()}
