"""The API Lambda entry point: Mangum adapts API Gateway REST and HTTP API events to the app."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from watchlist_api.app import create_app
from watchlist_core.observability import logger
from watchlist_core.wiring import get_services

# Lifespan off: Mangum would otherwise run startup and shutdown around every single invocation.
asgi_handler = Mangum(create_app(), lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_services()  # fails the invocation, not a request, when the configuration is invalid
    return asgi_handler(event, context)
