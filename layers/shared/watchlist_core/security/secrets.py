"""Secrets from configuration: a value in the environment, or an ARN in Secrets Manager fetched once."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from watchlist_core import tracing


def secret_loader(region: str, value: SecretStr | None, arn: str | None) -> Callable[[], str | None]:
    """A function returning the secret (None when neither is configured), fetching it at most once."""
    cache: list[str | None] = []

    def load() -> str | None:
        if not cache:
            if arn:
                # Imported here: only deployments that keep a secret in Secrets Manager pay for boto3.
                import boto3

                client = boto3.client("secretsmanager", region_name=region)
                tracing.watch_aws_calls(client)
                cache.append(client.get_secret_value(SecretId=arn)["SecretString"])
            else:
                cache.append(value.get_secret_value() if value else None)
        return cache[0]

    return load
