"""The Idempotency-Key request header (draft-ietf-httpapi-idempotency-key-header) on the writes that take it:
the same key from the same caller with the same request, within 24 hours, gets the first response again (status,
body, ETag, Location) without the write being done twice. Without the header nothing changes.

As in dependencies.py, no `from __future__ import annotations`: FastAPI reads these signatures route by route.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response

from watchlist_core.wiring import Services

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        # Visible characters, quoted or not; a quoted key is not empty (`""` is refused).
        pattern=r'^(?:"?[\x21\x23-\x7e][\x21-\x7e]*|")$',
        description=(
            "Optional: a value unique to this write (a UUID, say), quoted or not. Sent again with the same key "
            "within 24 hours, the write is not done twice: the first response comes back. The same key with a "
            "different request: 422; while the first is still in progress: 409 with Retry-After."
        ),
    ),
]
_REPLAYED_HEADERS = {"content-type", "etag", "location", "cache-control"}


def once(
    request: Request,
    services: Services,
    caller: str,
    key: str | None,
    fingerprint: Any,
    produce: Callable[[], Response],
) -> Response:
    """`produce()`'s response, done once per caller and key. `fingerprint` is what makes two requests "the same"
    beside their method and path: the validated body (so formatting does not count) and any precondition."""
    if key is None:
        return produce()

    def work() -> dict[str, Any]:
        response = produce()
        headers = {name: value for name, value in response.headers.items() if name in _REPLAYED_HEADERS}
        return {"status": response.status_code, "headers": headers, "body": bytes(response.body).decode()}

    answer = services.idempotency.answer(
        caller,
        key[1:-1] if len(key) > 1 and key[0] == key[-1] == '"' else key,  # the draft's form is a quoted string
        {"method": request.method, "path": request.url.path, "body": fingerprint},
        work,
        request.scope.get("aws.context"),
    )
    return Response(answer["body"], status_code=answer["status"], headers=answer["headers"])
