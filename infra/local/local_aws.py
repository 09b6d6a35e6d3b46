"""The local AWS every local tool shares (make dev, make invoke, the tests, the benchmarks): fake credentials, and
the template's queues and tables, and SES with the mail sender verified, on a moto server."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.utils import parseaddr

import boto3

from infra.aws.bootstrap import create_queues, create_tables
from watchlist_core import wiring
from watchlist_core.settings import get_settings

LOCAL_AWS_ENVIRONMENT = {
    # moto accepts any credentials; fixed fake ones keep boto3 from looking for real ones.
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_SECURITY_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "STAGE": "local",
}


def use_moto(
    endpoint_url: str,
    set_variable: Callable[[str, str], None] = os.environ.__setitem__,
    *,
    queue_prefix: str = "",
    visibility_timeout: int | None = None,
) -> None:
    """Point the app at the moto server at `endpoint_url` (through `set_variable`: os.environ's, or a test's
    monkeypatch.setenv), with the template's queues (named `queue_prefix` + logical id) and tables created there."""
    environment = {
        "DYNAMODB_ENDPOINT_URL": endpoint_url,
        "SQS_ENDPOINT_URL": endpoint_url,
        "SES_ENDPOINT_URL": endpoint_url,
    }
    environment |= create_queues(
        endpoint_url, LOCAL_AWS_ENVIRONMENT["AWS_REGION"], prefix=queue_prefix, visibility_timeout=visibility_timeout
    )
    for name, value in environment.items():
        set_variable(name, value)
    wiring.reset()  # the settings are read once: again, from this environment
    create_tables(get_settings())
    verify_mail_sender()


def verify_mail_sender() -> None:
    """The local SES sends only from a verified identity, as SES does: the configured sender's address is made one."""
    settings = get_settings()
    ses = boto3.client("sesv2", region_name=settings.aws_region, endpoint_url=settings.ses_endpoint_url)
    ses.create_email_identity(EmailIdentity=parseaddr(settings.mail_sender)[1])
