"""FastAPI dependencies: the services, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from watchlist_core.domain import User
from watchlist_core.errors import AuthenticationError
from watchlist_core.security.tokens import AccessClaims
from watchlist_core.wiring import Services, get_services

# A relative tokenUrl resolves against the OpenAPI document, so Swagger's Authorize works under a stage too.
bearer = OAuth2PasswordBearer(tokenUrl="v1/auth/login", auto_error=False)

ServicesDep = Annotated[Services, Depends(get_services)]


def access_claims(services: ServicesDep, token: Annotated[str | None, Depends(bearer)]) -> AccessClaims:
    if not token:
        raise AuthenticationError("A bearer access token is required.")
    return services.auth.authenticate(token)


Caller = Annotated[AccessClaims, Depends(access_claims)]


def admin_user(services: ServicesDep, claims: Caller) -> User:
    return services.auth.require_admin(claims)


Admin = Annotated[User, Depends(admin_user)]
