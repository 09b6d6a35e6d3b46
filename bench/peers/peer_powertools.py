"""Peer (b) of bench/cold_start.py: the same API on Powertools' event handler, what a user might pick instead.

`APIGatewayRestResolver` with validation on: the same twenty routes and pydantic models as peer_fastapi.py, the
request bodies and path parameters validated and the responses serialized through their models.
"""

# No `from __future__ import annotations`: the routes are annotated with classes local to add_resource.

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

RESOURCES = ["films", "shows", "books", "games", "albums", "podcasts", "plays", "comics", "courses", "talks"]
app = APIGatewayRestResolver(enable_validation=True)


def add_resource(app: APIGatewayRestResolver, name: str) -> None:
    class Create(BaseModel):
        title: str = Field(min_length=1, max_length=200)
        kind: Literal["new", "favourite", "later"] = "later"
        rating: int | None = Field(default=None, ge=1, le=10)
        note: str | None = Field(default=None, max_length=2000)
        tags: list[str] = Field(default_factory=list, max_length=20)

    class Stored(Create):
        id: str
        created_at: datetime

    Create.__name__, Stored.__name__ = f"{name.title()}Create", f"{name.title()}"

    def read(item_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Stored:
        return Stored(id=item_id, title=name, created_at=datetime.now(UTC))

    def create(body: Create) -> Stored:
        return Stored(id="new", created_at=datetime.now(UTC), **body.model_dump())

    app.get(f"/{name}/<item_id>")(read)
    app.post(f"/{name}")(create)


for resource in RESOURCES:
    add_resource(app, resource)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
