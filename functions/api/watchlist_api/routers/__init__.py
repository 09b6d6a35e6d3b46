"""One router per resource group; each route parses, calls one service method and shapes the response.

As in dependencies.py, no `from __future__ import annotations` in the routers: FastAPI reads every route's signature
when it registers the route, at every cold start, and would evaluate string annotations then, again for each route.
"""
