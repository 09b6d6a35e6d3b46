"""/v1/external: third-party data, fetched through resilient clients and cached."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from watchlist_api.conditional import represent, respond
from watchlist_api.dependencies import ExternalCaller, ServicesDep
from watchlist_api.strict_json import StrictJSONRoute
from watchlist_core.external.github_profile import GitHubProfile

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/external", tags=["external"])


@router.get(
    "/github/users/{username}",
    response_model=GitHubProfile,
    responses={
        422: {"description": "Not a name GitHub allows"},
        404: {"description": "GitHub has no such user"},
        502: {"description": "GitHub answered something unusable, or could not be reached"},
        503: {"description": "GitHub is rate-limiting us, or failing (see Retry-After)"},
        504: {"description": "GitHub did not answer in time"},
    },
)
async def github_user(
    request: Request, username: Annotated[str, Path(max_length=100)], _: ExternalCaller, services: ServicesDep
) -> Response:
    """A GitHub user's public profile; cached (`X-Cache`), revalidated with GitHub's ETag."""
    profile, outcome = await services.github.profile(username)
    return respond(request, represent(profile), cache=outcome)
