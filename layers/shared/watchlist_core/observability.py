"""Structured logging and CloudWatch metrics (embedded metric format: a log line, no API call)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

METRIC_NAMESPACE = "Watchlist"

logger = Logger(service="watchlist")


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Emit one Count metric now, with these dimensions."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=METRIC_NAMESPACE) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)
