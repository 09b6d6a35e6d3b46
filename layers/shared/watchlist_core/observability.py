"""Structured logging and the per-request context every log line and audit event carries."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="watchlist")
