"""The API Lambda entry point: Mangum adapts API Gateway REST and HTTP API events to the app."""

from __future__ import annotations

from watchlist_api.init_gc import collector_paused

# Lambda's init, with the garbage collector paused and what it made frozen after (init_gc.py).
with collector_paused():
    import asyncio
    from typing import Any, cast

    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mangum import Mangum
    from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

    from watchlist_api.app import create_app
    from watchlist_core import snapshots, tracing, wiring
    from watchlist_core.observability import logger

    # Set before Mangum is built: Mangum 0.22 asks asyncio.get_event_loop() for the thread's loop when built and on
    # each request, and with none set that warns (DeprecationWarning) on 3.12 and 3.13 and raises (RuntimeError) on
    # 3.14.
    _loop: asyncio.AbstractEventLoop | None = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    # Lifespan off: Mangum would otherwise run startup and shutdown around every single invocation.
    # "+json" keeps application/problem+json a text body: base64 would reach REST API clients undecoded.
    app = create_app()
    asgi_handler = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "+json"])
    # Run by Lambda only where SnapStart is on (template.yaml). The OpenAPI document builds every route's request
    # and response fields, which wait for their models' first use (domain.Model): in the snapshot, no request builds
    # one.
    snapshots.register_hooks(app.openapi)
    # Lambda's init: an instance without a usable signing key fails here, loudly, before it could answer anything.
    # The only configuration read at import, and cheap: the settings, and the key (from Secrets Manager where
    # deployed, which the first request would fetch anyway; SnapStart forgets it before the snapshot).
    wiring.signing_key()


def _current_loop() -> asyncio.AbstractEventLoop:
    """One event loop reused by every warm invocation, replaced only if something closed it."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.get_services()  # fails the invocation, not a request, when the configuration is invalid
    # Mangum runs the app on the thread's current loop; code such as asyncio.run() may have unset it.
    asyncio.set_event_loop(_current_loop())
    with tracing.invocation("watchlist-api", faas_invocation_id=context.aws_request_id):
        return asgi_handler(event, cast(Any, context))  # Mangum declares its own, narrower context protocol
