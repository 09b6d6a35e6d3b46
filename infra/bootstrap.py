"""Creates the template's tables (idempotently) and the first admin.

python -m infra.bootstrap tables        # against DYNAMODB_ENDPOINT_URL, or AWS
python -m infra.bootstrap admin         # from ADMIN_EMAIL and ADMIN_PASSWORD
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import boto3

from infra.template import create_table_requests, load_template, table_env_vars
from watchlist_core.domain import User
from watchlist_core.settings import Settings, get_settings
from watchlist_core.wiring import get_services


def table_names(settings: Settings) -> dict[str, str]:
    """Logical id -> table name, through the environment variable the template passes it in."""
    return {
        logical_id: getattr(settings, env_var.lower())
        for logical_id, env_var in table_env_vars(load_template()).items()
    }


def create_tables(settings: Settings) -> list[str]:
    """Create every table that does not exist yet; return the names created."""
    client: Any = boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.dynamodb_endpoint_url)
    existing = set(client.list_tables()["TableNames"])
    created = []
    for request in create_table_requests(load_template(), table_names(settings)):
        time_to_live = request.pop("TimeToLiveSpecification", None)
        if request["TableName"] in existing:
            continue
        client.create_table(**request)
        client.get_waiter("table_exists").wait(TableName=request["TableName"])
        if time_to_live:
            client.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=time_to_live)
        created.append(request["TableName"])
    return created


def ensure_admin(email: str, password: str) -> tuple[User, bool]:
    """The first admin: created, or an existing account promoted (its password left alone)."""
    return get_services().auth.ensure_admin(email, password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["tables", "admin"])
    args = parser.parse_args(argv)
    if args.what == "tables":
        print("created:", ", ".join(create_tables(get_settings())) or "nothing (all tables exist)")
        return 0
    email, password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
    if not email or not password:
        print("set ADMIN_EMAIL and ADMIN_PASSWORD", file=sys.stderr)
        return 2
    user, created = ensure_admin(email, password)
    print(f"admin {user.email} {'created' if created else 'promoted (password unchanged)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
