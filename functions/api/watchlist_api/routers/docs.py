"""Swagger UI at /docs and its OAuth2 redirect, under the stage prefix too.

Its script and stylesheet are served by the API itself, from the pinned `fastapi-offline` package's copies (only
its files are read; its code is never imported), at `/docs/assets/<digest>/<file>`: no third-party host at run
time, and a URL that names the files' content, so browsers keep them for a year and a new version is a new URL.
The files are read on the first request that needs them, never at import (the cold start). SWAGGER_UI_ASSETS_URL
points the page at another copy (a CDN) instead."""

import base64
import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from starlette.routing import Route

from watchlist_api.strict_json import StrictJSONRoute
from watchlist_core.errors import NotFoundError
from watchlist_core.settings import get_settings

router = APIRouter(route_class=StrictJSONRoute, include_in_schema=False)
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
ASSETS = "/docs/assets"
ASSETS_PACKAGE = "fastapi_offline"
# Text types, so Mangum passes them as text: a base64 body reaches REST API clients undecoded.
ASSET_TYPES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8"}
# The URL changes with the content, so a copy never goes stale (RFC 8246: no revalidation either).
IMMUTABLE = "public, max-age=31536000, immutable"


class BundledAssets:
    """Swagger UI's files as the package ships them, the digest their URLs carry, and its icon as a data URI. (A
    plain class: a dataclass would cost the import a millisecond.)"""

    __slots__ = ("digest", "favicon", "files")

    def __init__(self, files: dict[str, bytes], digest: str, favicon: str) -> None:
        self.files = files
        self.digest = digest
        self.favicon = favicon


def assets_folder() -> Path:
    """The package's static folder, found without running the package's code."""
    from importlib.util import find_spec

    spec = find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{ASSETS_PACKAGE} is not installed: layers/dependencies/requirements.txt pins it")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def bundled_assets() -> BundledAssets:
    folder = assets_folder()
    files = {name: (folder / name).read_bytes() for name in ASSET_TYPES}
    digest = hashlib.sha256(b"".join(hashlib.sha256(content).digest() for content in files.values())).hexdigest()
    favicon = "data:image/png;base64," + base64.b64encode((folder / "favicon.png").read_bytes()).decode()
    return BundledAssets(files, digest[:16], favicon)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root_path = request.scope.get("root_path", "").rstrip("/")
    bundled = bundled_assets()
    elsewhere = get_settings().swagger_ui_assets_url
    assets = elsewhere.rstrip("/") if elsewhere else f"{root_path}{ASSETS}/{bundled.digest}"
    return get_swagger_ui_html(
        openapi_url=root_path + str(request.app.openapi_url),
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=root_path + OAUTH2_REDIRECT,
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=bundled.favicon,
    )


async def swagger_ui_asset(request: Request) -> Response:
    bundled = bundled_assets()
    digest, name = request.path_params["digest"], request.path_params["name"]
    if digest != bundled.digest or name not in ASSET_TYPES:
        raise NotFoundError("No such Swagger UI file.")
    return Response(bundled.files[name], media_type=ASSET_TYPES[name], headers={"Cache-Control": IMMUTABLE})


# A plain route: nothing to validate but two path segments, and FastAPI's analysis of a route's signature would
# cost the import (the cold start) a millisecond.
router.routes.append(Route(ASSETS + "/{digest}/{name}", swagger_ui_asset, methods=["GET"], include_in_schema=False))


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
