"""One router per resource group; each route parses, calls one service method and shapes the response.

As in dependencies.py, no `from __future__ import annotations` in the routers: FastAPI reads every route's signature
when it registers the route, at every cold start, and would evaluate string annotations then, again for each route.
"""

from watchlist_api import pydantic_v1_check

# Before any router module registers a route: FastAPI's first route would import pydantic.v1 (pydantic_v1_check.py).
pydantic_v1_check.install()
