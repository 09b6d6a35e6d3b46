"""Liveness at /health (no dependency touched) and readiness at /v1/health/detailed."""

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from watchlist_api.dependencies import AnonymousLimit, ServicesDep
from watchlist_api.strict_json import StrictJSONRoute
from watchlist_core.domain import Model
from watchlist_core.services.health import Status

router = APIRouter(route_class=StrictJSONRoute, tags=["health"])


class Liveness(Model):
    status: Literal["pass"] = "pass"


class CheckOut(Model):
    status: Status
    latency_ms: float


class Readiness(Model):
    status: Status
    version: str
    checks: dict[str, CheckOut]


@router.get("/health", response_model=Liveness)
def liveness() -> Liveness:
    return Liveness()


@router.get(
    "/v1/health/detailed",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    dependencies=[AnonymousLimit],
)
def readiness(services: ServicesDep) -> Response:
    report = services.health.report()
    body = Readiness(
        status=report.status,
        version=services.settings.app_version,
        checks={name: CheckOut(status=r.status, latency_ms=r.latency_ms) for name, r in report.checks.items()},
    )
    status_code = 503 if report.status == "fail" else 200
    return JSONResponse(body.model_dump(), status_code=status_code, headers={"Cache-Control": "no-store"})
