"""Peer (a) of bench/cold_start.py: what a small FastAPI + Mangum API imports and builds at a cold start.

Twenty validated routes over ten resources (a GET by id, a POST with a request body), each resource with its own
pydantic request and response models; every route declares its response model, as FastAPI apps usually do.
"""

# No `from __future__ import annotations`: the routes are annotated with classes local to add_resource.

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path
from mangum import Mangum
from pydantic import BaseModel, Field

RESOURCES = ["films", "shows", "books", "games", "albums", "podcasts", "plays", "comics", "courses", "talks"]
app = FastAPI(title="Peer: FastAPI + Mangum")


def add_resource(app: FastAPI, name: str) -> None:
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

    def read(item_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Any:
        return Stored(id=item_id, title=name, created_at=datetime.now(UTC))

    def create(body: Create) -> Any:
        return Stored(id="new", created_at=datetime.now(UTC), **body.model_dump())

    app.get(f"/{name}/{{item_id}}", response_model=Stored, name=f"read_{name}")(read)
    app.post(f"/{name}", response_model=Stored, status_code=201, name=f"create_{name}")(create)


for resource in RESOURCES:
    add_resource(app, resource)
handler = Mangum(app, lifespan="off")
