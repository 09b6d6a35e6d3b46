"""watchlist_api/pydantic_v1_check.py: FastAPI's pydantic.v1 check, off the cold start and still refusing v1 models."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any

import pytest
from fastapi import APIRouter, _compat, encoders, routing, utils
from fastapi._compat import shared
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import PydanticV1NotSupportedError

import watchlist_api.routers  # noqa: F401 (installs the check, as the app's import does)
from watchlist_api import pydantic_v1_check


def test_the_handlers_import_and_its_openapi_document_leave_pydantic_v1_unimported() -> None:
    """The document builds every route's fields, as the before-snapshot hook does; a validation error's problem
    details go through jsonable_encoder's fallbacks."""
    code = (
        "import sys, watchlist_api.handler as handler; handler.app.openapi(); "
        "from fastapi.encoders import jsonable_encoder; jsonable_encoder({'ctx': {'error': ValueError('no')}}); "
        "print('pydantic.v1' in sys.modules)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_fastapis_checks_are_where_the_project_replaces_them() -> None:
    """A FastAPI upgrade that renames or moves them fails here, instead of the import paying for pydantic.v1 again
    unnoticed (the test above would catch that too, this says why)."""
    assert shared.is_pydantic_v1_model_class is pydantic_v1_check.is_pydantic_v1_model_class
    assert shared.is_pydantic_v1_model_instance is pydantic_v1_check.is_pydantic_v1_model_instance
    assert vars(encoders)["is_pydantic_v1_model_instance"] is pydantic_v1_check.is_pydantic_v1_model_instance
    assert _compat.is_pydantic_v1_model_instance is pydantic_v1_check.is_pydantic_v1_model_instance
    # Where FastAPI asks them: by their module-level names, which install() replaced.
    assert "is_pydantic_v1_model_class" in shared.annotation_is_pydantic_v1.__code__.co_names
    assert "annotation_is_pydantic_v1" in utils.create_model_field.__code__.co_names
    assert "is_pydantic_v1_model_instance" in encoders.jsonable_encoder.__code__.co_names
    # No other FastAPI module holds FastAPI's originals.
    originals = {
        id(pydantic_v1_check._fastapi_is_v1_model_class),
        id(pydantic_v1_check._fastapi_is_v1_model_instance),
    }
    holders = [
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if name == "fastapi" or name.startswith("fastapi.")
        for attribute, value in vars(module).items()
        if id(value) in originals
    ]
    assert holders == []


@pytest.fixture
def v1_model() -> type[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic.v1 may warn about the Python version on import
        from pydantic import v1

    class Legacy(v1.BaseModel):
        name: str

    return Legacy


def test_fastapi_still_refuses_a_pydantic_v1_request_body(v1_model: type[Any]) -> None:
    router = APIRouter()

    def create(item: Any) -> None:
        del item

    create.__annotations__["item"] = v1_model  # the class itself: this module's annotations are strings

    with pytest.raises(PydanticV1NotSupportedError):
        router.add_api_route("/legacy", create, methods=["POST"])


def test_fastapi_still_refuses_a_pydantic_v1_response_model(v1_model: type[Any]) -> None:
    def read() -> None:
        return None

    with pytest.raises(PydanticV1NotSupportedError):
        routing.APIRoute("/legacy", read, response_model=v1_model)
    with pytest.raises(PydanticV1NotSupportedError):
        routing.APIRoute("/legacy", read, response_model=list[v1_model])  # type: ignore[valid-type]


def test_jsonable_encoder_still_refuses_a_pydantic_v1_instance(v1_model: type[Any]) -> None:
    with pytest.raises(PydanticV1NotSupportedError):
        jsonable_encoder(v1_model(name="old"))
