"""JSON request bodies read strictly: a key given twice in one object has no one meaning, so it is refused (422)
rather than read as its last value, as `json.loads` would."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DuplicateKeyError(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


def repeated_names(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """The names given more than once among (name, value) pairs, sorted: a JSON object's keys, a form's fields or a
    query's parameters, none of which has one meaning when repeated."""
    return sorted(name for name, times in Counter(name for name, _ in pairs).items() if times > 1)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    repeated = repeated_names(pairs)
    if repeated:
        raise DuplicateKeyError(repeated)
    return dict(pairs)


def strict_json_loads(body: bytes) -> Any:
    """`json.loads`, refusing a duplicated key (DuplicateKeyError)."""
    return json.loads(body, object_pairs_hook=_refuse_duplicate_keys)


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        return strict_json_loads(await self.body())


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is parsed by `strict_json_loads` (FastAPI's own parser otherwise: the error FastAPI
    raises for it, a 400, carries the DuplicateKeyError, which problems.py answers as a 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
