"""FastAPI dependencies: the services, who is calling, and whether they may (rate limits)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer

from watchlist_core.domain import User
from watchlist_core.errors import AuthenticationError
from watchlist_core.security.tokens import AccessClaims
from watchlist_core.state.gate import Admission
from watchlist_core.wiring import Services, get_services

# A relative tokenUrl resolves against the OpenAPI document, so Swagger's Authorize works under a stage too.
bearer = OAuth2PasswordBearer(tokenUrl="v1/auth/login", auto_error=False)


# The dependencies below are `async def` although Redis calls block: a Lambda instance serves one request
# at a time, so nothing waits on the loop meanwhile, and a thread hop per dependency would cost more than
# the sub-millisecond Redis round trip (bench/redis_cost.py). Storage-bound routes stay sync.
async def services() -> Services:
    return get_services()


ServicesDep = Annotated[Services, Depends(services)]


def _remember(request: Request, admission: Admission) -> None:
    """The middleware turns `rate_limit` into headers; cached reads use `cache_version`."""
    request.state.rate_limit = admission.limit
    request.state.cache_version = admission.cache_version


def authenticated(policy_name: str) -> Callable[[Request, Services, str | None], Awaitable[AccessClaims]]:
    """A dependency for the caller's access token, counting the request against their `policy_name` limit."""

    async def access_claims(
        request: Request, services: ServicesDep, token: Annotated[str | None, Depends(bearer)]
    ) -> AccessClaims:
        if not token:
            raise AuthenticationError("A bearer access token is required.")
        claims = services.auth.authenticate(token)
        _remember(request, services.admission.admit_user(claims, policy_name))
        return claims

    return access_claims


Caller = Annotated[AccessClaims, Depends(authenticated("user"))]
# Calls that reach a third party count against a stricter limit of their own.
ExternalCaller = Annotated[AccessClaims, Depends(authenticated("external"))]


def admin_user(services: ServicesDep, claims: Caller) -> User:
    return services.auth.require_admin(claims)


Admin = Annotated[User, Depends(admin_user)]


def client_ip(request: Request) -> str:
    """The client's address: API Gateway's source IP, never a header a client can set."""
    return request.client.host if request.client else "unknown"


def limited_by_client_ip(policy_name: str) -> Callable[[Request, Services], Awaitable[None]]:
    """A dependency counting requests per client IP."""

    async def admit(request: Request, services: ServicesDep) -> None:
        _remember(request, services.admission.admit_anonymous(client_ip(request), policy_name))

    return admit


AnonymousLimit = Depends(limited_by_client_ip("anonymous"))
LoginLimit = Depends(limited_by_client_ip("login"))


async def single_valued_query(request: Request) -> None:
    """Every query parameter at most once: `?type=show&type=movie` has no one meaning, so it is refused (422)
    rather than read as whichever value comes last."""
    names = [name for name, _ in request.query_params.multi_items()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RequestValidationError(
            [{"type": "repeated", "loc": ("query", name), "msg": "Give this parameter once."} for name in repeated]
        )
