"""Swagger UI at /docs, its assets from SWAGGER_UI_ASSETS_URL (a CDN by default; self-hosted where a content
security policy or an offline machine needs it), and its OAuth2 redirect; under the stage prefix too."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from watchlist_core.settings import get_settings

router = APIRouter(include_in_schema=False)
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root_path = request.scope.get("root_path", "").rstrip("/")
    assets = get_settings().swagger_ui_assets_url.rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root_path + str(request.app.openapi_url),
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=root_path + OAUTH2_REDIRECT,
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
