"""Integration fixtures: one moto server per test session over real HTTP, tables from template.yaml."""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from infra.local.gateway import make_server
from infra.local.instances import InProcessInstance
from infra.local.local_aws import use_moto
from infra.local.mailbox import MAILBOX_VARIABLE, messages
from infra.local.moto_server import MotoServer
from infra.local.redis_cluster import LocalRedisCluster
from infra.local.redis_server import RedisServer
from infra.local.sqs_poller import PollResult, QueuePoller
from tests.support import REDIS_TOPOLOGIES, Api, local_redis, unique_email
from watchlist_core import wiring
from watchlist_core.observability import logger


@pytest.fixture(scope="session")
def mailbox_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session moto server's SES mailbox (infra/local/mailbox.py): every mail any test sent."""
    return tmp_path_factory.mktemp("mail") / "mailbox.jsonl"


@pytest.fixture(scope="session")
def moto_server(mailbox_file: Path) -> Iterator[MotoServer]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(MAILBOX_VARIABLE, str(mailbox_file))
        server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


class MailFlow:
    """The test's mail queue, drained through the mail function's handler, and what the local SES sent."""

    def __init__(self, sqs: Any, mailbox_file: Path) -> None:
        from watchlist_mail.handler import handler as mail_handler

        self.poller = QueuePoller(sqs, os.environ["MAIL_QUEUE_URL"], mail_handler, function_name="mail")
        self._mailbox_file = mailbox_file

    def deliver(self) -> PollResult:
        return self.poller.drain()

    def to(self, address: str) -> list[dict[str, Any]]:
        """The mails sent to `address`, newest first."""
        return [message for message in messages(self._mailbox_file) if message["to"] == address]

    def token(self, address: str, subject: str) -> str:
        """The token of the newest mail to `address` whose subject holds `subject` (delivering first)."""
        self.deliver()
        newest = next(message for message in self.to(address) if subject in message["subject"])
        return str(parse_qs(urlsplit(LINK.search(newest["text"])[0]).query)["token"][0])  # type: ignore[index]


@pytest.fixture
def mail(dynamodb: str, sqs: Any, mailbox_file: Path) -> MailFlow:
    return MailFlow(sqs, mailbox_file)


@pytest.fixture(scope="session", params=REDIS_TOPOLOGIES)
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer | LocalRedisCluster]:
    """A real Redis for the session, of each kind (tests that stop Redis start their own)."""
    with local_redis(request.param) as server:
        yield server


LINK = re.compile(r"https?://\S+")

# Queues a test creates redeliver a failed message after this long (the template's 180 s, shortened).
TEST_VISIBILITY_TIMEOUT = 1


@pytest.fixture
def dynamodb(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the app at the session's moto server: the template's tables, and audit queues of this test's own."""
    # moto on a busy 2-core machine can take longer than DynamoDB's deployed 0.8 s read limit allows for; the
    # failure tests (test_dynamodb_failures.py) run with the deployed limits.
    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "5")
    # Likewise the detailed health check's first run of an instance, which makes its botocore clients too, against
    # its 1.5 s budget: that deadline is proven in tests/unit/test_health_service.py, not by the machine's load.
    monkeypatch.setenv("HEALTH_CHECK_TIMEOUT_SECONDS", "5")
    use_moto(
        moto_server.endpoint_url,
        monkeypatch.setenv,
        queue_prefix=f"t{uuid.uuid4().hex[:10]}-",
        visibility_timeout=TEST_VISIBILITY_TIMEOUT,
    )
    return moto_server.endpoint_url


@pytest.fixture
def sqs(moto_server: MotoServer) -> Any:
    return boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)


@pytest.fixture
def audit_handler(dynamodb: str) -> Any:
    from watchlist_audit.handler import handler

    return handler


@pytest.fixture
def poller(sqs: Any, audit_handler: Any) -> QueuePoller:
    """This test's audit queue feeding the audit function, as Lambda's event source mapping would."""
    return QueuePoller(sqs, os.environ["AUDIT_QUEUE_URL"], audit_handler)


@pytest.fixture
def handler(dynamodb: str):  # type: ignore[no-untyped-def]
    from watchlist_api.handler import handler

    return handler


@pytest.fixture
def gateway(handler) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """`make dev`'s local API Gateway in front of the handler, on a port of its own: the API over real HTTP."""
    server = make_server(InProcessInstance(handler), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture(
    params=[("1.0", None), ("2.0", None), ("1.0", "Prod"), ("2.0", "Prod")],
    ids=lambda p: f"v{p[0]}-{p[1] or 'nostage'}",
)
def any_api(request: pytest.FixtureRequest, handler) -> Api:  # type: ignore[no-untyped-def]
    """The API behind REST (v1) and HTTP API (v2) events, with and without a stage prefix."""
    version, stage = request.param
    return Api(handler, version=version, stage=stage)


@pytest.fixture
def api(handler) -> Api:  # type: ignore[no-untyped-def]
    return Api(handler)


@pytest.fixture
def redis_api(handler, redis_server: RedisServer | LocalRedisCluster, monkeypatch: pytest.MonkeyPatch) -> Api:  # type: ignore[no-untyped-def]
    """The API on the session's real Redis; every test gets an emptied Redis."""
    redis_server.client().flushall()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    wiring.reset()
    return Api(handler)


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the app logs meanwhile, one JSON line each."""
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    return buffer


# A Redis connection attempt: the port, and the socket's timeout or the error that ended it.
ConnectionAttempts = list[tuple[int, float | OSError | None]]


@pytest.fixture
def redis_connections(monkeypatch: pytest.MonkeyPatch) -> ConnectionAttempts:
    """Every connection attempt of the app's Redis clients, in order."""
    from redis.connection import Connection

    opened: ConnectionAttempts = []
    connect = Connection._connect

    def spy(connection: Connection) -> socket.socket:
        try:
            sock: socket.socket = connect(connection)
        except OSError as error:
            opened.append((int(connection.port), error))
            raise
        opened.append((int(connection.port), sock.gettimeout()))
        return sock

    monkeypatch.setattr(Connection, "_connect", spy)
    return opened


@pytest.fixture
def admin_token(api: Api) -> str:
    email = unique_email()
    wiring.get_services().auth.ensure_admin(email, "admin password 1")
    return str(api.login(email, "admin password 1")["access_token"])
