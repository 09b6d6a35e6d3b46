"""Data access for idempotency records: Powertools' DynamoDB persistence layer on the idempotency table, with the
same endpoint, limits and outage pause as the other tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchlist_core.settings import Settings
from watchlist_core.storage.tables import guarded_client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from pynamodb.connection import Connection


def idempotency_records(settings: Settings, connection: Connection) -> BasePersistenceLayer:
    """Built on the botocore session PynamoDB's connection already warmed (a new session costs ~200 ms)."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    client = boto3.session.Session(botocore_session=connection.session).client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=Config(
            connect_timeout=settings.dynamodb_connect_timeout_seconds,
            read_timeout=settings.dynamodb_read_timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": settings.dynamodb_max_retry_attempts + 1},
        ),
    )
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=guarded_client(client))
