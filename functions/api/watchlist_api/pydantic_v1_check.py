"""FastAPI's check for `pydantic.v1` models, without importing `pydantic.v1` in an app that has none.

FastAPI (0.163 to 0.165 at least) refuses a route whose body, parameter or response is a `pydantic.v1` model, and
asks "is this a v1 model?" of every annotation it registers and of every object `jsonable_encoder` falls through
to. Each ask does `from pydantic import v1`: the first route of every cold start imports all of `pydantic.v1`
(91 M instructions, 0.043x the cold-start floor; docs/benchmarks.md) only to answer no.

A class or instance of `pydantic.v1.BaseModel` cannot exist unless `pydantic.v1` was imported: the class is defined
in `pydantic.v1.main`, a submodule of it, and importing a submodule puts its package in `sys.modules` first. So with
`pydantic.v1` not in `sys.modules` the answer is no without importing anything, and otherwise FastAPI's own check
answers. The same reasoning is upstream's proposal, FastAPI PR #16374 ("Avoid importing pydantic.v1 in Pydantic
v2-only apps", closed unreleased); if a release takes it, this module can go.

Applied by `watchlist_api.routers` before any router registers a route. tests/unit/test_pydantic_v1_check.py fails
if a FastAPI upgrade moves the functions replaced here (the import would silently pay for `pydantic.v1` again), and
checks that FastAPI still refuses a `pydantic.v1` model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fastapi import _compat, encoders
from fastapi._compat import shared

# FastAPI's own checks, asked once pydantic.v1 is imported (by anything).
_fastapi_is_v1_model_class: Callable[[Any], bool] = shared.is_pydantic_v1_model_class
_fastapi_is_v1_model_instance: Callable[[Any], bool] = shared.is_pydantic_v1_model_instance


def is_pydantic_v1_model_class(cls: Any) -> bool:
    return "pydantic.v1" in sys.modules and _fastapi_is_v1_model_class(cls)


def is_pydantic_v1_model_instance(obj: Any) -> bool:
    return "pydantic.v1" in sys.modules and _fastapi_is_v1_model_instance(obj)


def install() -> None:
    """Replaces FastAPI's checks where they are called: `shared`'s own `annotation_is_pydantic_v1` (which
    `fastapi.utils.create_model_field` asks of every field) looks the class check up in its module, and
    `jsonable_encoder` holds its own reference to the instance check, imported from `fastapi._compat`."""
    shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class
    shared.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
    _compat.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
    encoders.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance  # type: ignore[attr-defined] # imported
