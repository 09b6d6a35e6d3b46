"""Builds the FastAPI application; reads no configuration until the first request."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from watchlist_api.dependencies import single_valued_query
from watchlist_api.middleware import CorsMiddleware, HeadAsGetMiddleware, RequestContextMiddleware
from watchlist_api.openapi import install_openapi
from watchlist_api.problems import install_problem_handlers
from watchlist_api.routers import admin, auth, docs, external, health, watchlists
from watchlist_core import __version__


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app() -> FastAPI:
    app = FastAPI(
        title="Watchlist API",
        version=__version__,
        description="Save movies and shows to watch later. Errors are RFC 9457 problem details.",
        docs_url=None,  # routers/docs.py serves it, with configurable asset URLs
        # No redirect to the slash-less path: Starlette builds it from the client's Host header.
        redirect_slashes=False,
        dependencies=[Depends(single_valued_query)],
        # Operation ids are the route functions' names ("login", "list_items"): short and stable names for the
        # clients generated from the document, instead of FastAPI's name, path and method.
        generate_unique_id_function=operation_id,
    )
    for router in (health.router, docs.router, auth.router, watchlists.router, admin.router, external.router):
        app.include_router(router)
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(CorsMiddleware)  # outermost: preflights are answered before anything else
    return app
