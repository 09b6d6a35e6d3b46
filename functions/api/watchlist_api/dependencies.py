"""FastAPI dependencies: the services, who is calling, and whether they may (rate limits).

No `from __future__ import annotations` here: FastAPI reads each route's signature, and its dependencies', when it
registers the route, and evaluates string annotations anew each time (a dependency once per route that uses it), at
every cold start; evaluated once, when Python defines the function, they cost that only once.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer

from watchlist_api.conditional import OwnerCache
from watchlist_api.rate_limit_headers import attach_rate_limit
from watchlist_api.strict_json import repeated_names
from watchlist_core import tracing
from watchlist_core.domain import User
from watchlist_core.errors import AuthenticationError, MissingCredentialsError, PermissionDeniedError
from watchlist_core.security.tokens import AccessClaims
from watchlist_core.wiring import Services, get_services

# A relative tokenUrl resolves against the OpenAPI document, so Swagger's Authorize works under a stage too.
bearer = OAuth2PasswordBearer(tokenUrl="v1/auth/token", auto_error=False)


# The dependencies below are `async def` although Redis calls block: a Lambda instance serves one request
# at a time, so nothing waits on the loop meanwhile, and a thread hop per dependency would cost more than
# the sub-millisecond Redis round trip (bench/redis_cost.py). Storage-bound routes stay sync.
async def services() -> Services:
    return get_services()


ServicesDep = Annotated[Services, Depends(services)]


@dataclass(frozen=True)
class AdmittedCaller:
    """A signed-in caller whose request Redis counted, and their response cache's version it read meanwhile."""

    claims: AccessClaims
    cache_version: int | None


def admitted(*policy_names: str) -> Callable[[Request, Services, str | None], Awaitable[AdmittedCaller]]:
    """A dependency for the caller's access token, counting the request against each of their named limits."""

    async def admit(
        request: Request, services: ServicesDep, token: Annotated[str | None, Depends(bearer)]
    ) -> AdmittedCaller:
        # None: no Authorization header, or another scheme (RFC 6750 counts both as no credentials); "": a
        # `Bearer` with nothing after it, a token sent malformed.
        if token is None:
            raise MissingCredentialsError("A bearer access token is required.")
        if not token:
            raise AuthenticationError("The bearer access token is empty.")
        claims = services.auth.authenticate(token)
        tracing.annotate(user_id=claims.user_id)
        admission = services.admission.admit_user(claims, policy_names)
        attach_rate_limit(request, admission.limit)
        return AdmittedCaller(claims, admission.cache_version)

    return admit


# FastAPI runs a dependency once per request however many others depend on it: Caller and OwnCache below share
# one admission (one Redis round trip).
AdmittedUser = Annotated[AdmittedCaller, Depends(admitted("user"))]
# Calls that reach a third party count against a stricter limit of their own.
AdmittedExternalUser = Annotated[AdmittedCaller, Depends(admitted("external"))]
# Writes that store something (an item, its audit event, an idempotency record) also count against a daily quota.
AdmittedWriter = Annotated[AdmittedCaller, Depends(admitted("user", "writes"))]


async def caller_claims(admitted: AdmittedUser) -> AccessClaims:
    return admitted.claims


async def external_caller_claims(admitted: AdmittedExternalUser) -> AccessClaims:
    return admitted.claims


async def writer_claims(admitted: AdmittedWriter, services: ServicesDep) -> AccessClaims:
    """With REQUIRE_VERIFIED_EMAIL, only accounts whose address is confirmed change their watchlist (as their token
    says: no read; a refresh after confirming carries it)."""
    if services.settings.require_verified_email and not admitted.claims.email_verified:
        raise PermissionDeniedError(
            "Confirm your e-mail address first (POST /v1/auth/verification mails a link), then refresh your tokens."
        )
    return admitted.claims


async def own_cache(admitted: AdmittedUser, services: ServicesDep) -> OwnerCache:
    return OwnerCache(services.cache, admitted.claims.user_id, admitted.cache_version)


Caller = Annotated[AccessClaims, Depends(caller_claims)]
ExternalCaller = Annotated[AccessClaims, Depends(external_caller_claims)]
Writer = Annotated[AccessClaims, Depends(writer_claims)]
# The caller's own cached representations, at the version their admission read.
OwnCache = Annotated[OwnerCache, Depends(own_cache)]


def admin_user(services: ServicesDep, claims: Caller) -> User:
    return services.auth.require_admin(claims)


Admin = Annotated[User, Depends(admin_user)]


def client_ip(request: Request) -> str:
    """The client's address: API Gateway's source IP, never a header a client can set."""
    return request.client.host if request.client else "unknown"


MAX_USER_AGENT = 256


def user_agent(request: Request) -> str | None:
    """The client's User-Agent as its owner will read it in their list of sessions: bounded, no control characters."""
    agent = request.headers.get("user-agent")
    if not agent:
        return None
    return "".join(character for character in agent[:MAX_USER_AGENT] if character.isprintable()) or None


def limited_by_client_ip(policy_name: str) -> Callable[[Request, Services], Awaitable[None]]:
    """A dependency counting requests per client IP."""

    async def admit(request: Request, services: ServicesDep) -> None:
        attach_rate_limit(request, services.admission.admit_anonymous(client_ip(request), policy_name).limit)

    return admit


AnonymousLimit = Depends(limited_by_client_ip("anonymous"))
LoginLimit = Depends(limited_by_client_ip("login"))
RegisterLimit = Depends(limited_by_client_ip("register"))
ForgotLimit = Depends(limited_by_client_ip("password_forgot"))


async def single_valued_query(request: Request) -> None:
    """Every query parameter at most once: `?type=show&type=movie` has no one meaning, so it is refused (422)
    rather than read as whichever value comes last."""
    repeated = repeated_names(request.query_params.multi_items())
    if repeated:
        raise RequestValidationError(
            [{"type": "repeated", "loc": ("query", name), "msg": "Give this parameter once."} for name in repeated]
        )
