"""Entity tags: ETag on cacheable reads, If-None-Match (304) and If-Match (412) on writes."""

from __future__ import annotations

import hashlib
import json

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

CACHE_CONTROL = "private, no-cache"


def version_etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The item versions an If-Match header accepts; None when any version will do."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions = set()
    for tag in _tags(if_match):
        opaque = tag.strip('"')
        if tag.startswith('"') and tag.endswith('"') and opaque.isdigit():
            versions.add(int(opaque))
    return frozenset(versions)  # empty: no tag can match, so the write gets 412


def _none_match(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.removeprefix("W/") for tag in _tags(if_none_match)}


def cacheable(request: Request, payload: BaseModel, etag: str | None = None, status_code: int = 200) -> Response:
    """JSON with an ETag (the version's, or a digest of the body); 304 when the client has it."""
    content = json.dumps(jsonable_encoder(payload), separators=(",", ":"), ensure_ascii=False).encode()
    etag = etag or '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if status_code == 200 and _none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(content, status_code=status_code, media_type="application/json", headers=headers)
