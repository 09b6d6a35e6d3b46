"""`make dev`: moto server (DynamoDB and SQS), tables and queues from template.yaml, the first admin, the audit
worker (queue poller and outbox relay, see infra/local/audit_worker.py) and the API through its Lambda handler.
A saved .py under functions/ or layers/shared/ starts new API instances and a new audit worker (RELOAD=0: no
watching, and one instance runs in this process). With GITHUB_STUB=1, a local GitHub stand-in
(infra/local/github_stub.py) instead of api.github.com; with FRONTEND=1, the Streamlit front end beside the API
(FRONTEND_PORT, default 8501).

Redis: REDIS_URL if set; else the local server on 127.0.0.1:6379 when one answers; else an in-process
stand-in. An existing DYNAMODB_ENDPOINT_URL is used instead of starting a moto server (how the tests run
two API processes on one DynamoDB). Stops cleanly on SIGINT or SIGTERM, taking every process it started with it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
from contextlib import ExitStack, closing
from pathlib import Path
from types import FrameType

from infra import ROOT
from infra.aws.bootstrap import create_queues, create_tables, first_admin
from infra.local.frontend import streamlit
from infra.local.gateway import make_server
from infra.local.github_stub import DEMO_USERS, GitHubStub
from infra.local.instances import Instances, instances
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT, verify_mail_sender
from infra.local.mailbox import MAILBOX_PATH, MAILBOX_VARIABLE, printing
from infra.local.moto_server import MotoServer
from infra.local.reload import CodeWatcher, ReloadingInstances, RestartingProcess, reloader
from infra.local.servers import wait_until_listening
from infra.local.signing_key import use_local_signing_key
from watchlist_core.settings import get_settings

LOCAL_REDIS = ("127.0.0.1", 6379)
DEV_ENVIRONMENT = LOCAL_AWS_ENVIRONMENT | {
    # Locally the relay may resend an unstored event after 10 s, not 2 minutes.
    "AUDIT_OUTBOX_GRACE_SECONDS": "10",
}


SERVICES_SECONDS = 120  # DynamoDB Local's JVM takes seconds to listen, more on a busy machine

# What the reload watches: the functions' code and the shared layer, as `sam build` packages them.
WATCHED = (ROOT / "functions", ROOT / "layers" / "shared")


def _say(line: str) -> None:
    print(line, flush=True)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _choose_redis() -> str:
    """Sets REDIS_URL when a Redis is to be used; says which backend the API runs on."""
    if os.environ.get("REDIS_URL"):
        return f"Redis: {os.environ['REDIS_URL']}"
    try:
        with socket.create_connection(LOCAL_REDIS, timeout=0.3) as connection:
            connection.sendall(b"PING\r\n")
            answered = connection.recv(16).startswith(b"+PONG")
    except OSError:
        answered = False
    if answered:
        os.environ["REDIS_URL"] = "redis://{}:{}/0".format(*LOCAL_REDIS)
        return f"Redis: the local server, {os.environ['REDIS_URL']}"
    return "Redis: none found; using the IN-PROCESS stand-in (per process: limits and cache are not shared)"


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    for name, value in DEV_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    use_local_signing_key()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(_choose_redis(), flush=True)
    with ExitStack() as stack:
        # The mailbox of this run (moto's memory is too): the moto server that serves SES writes it.
        mailbox = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="watchlist-mail-"))) / "mailbox.jsonl"
        os.environ[MAILBOX_VARIABLE] = str(mailbox)
        moto: MotoServer | None = None
        if os.environ.get("DYNAMODB_ENDPOINT_URL"):
            # Services started beside this one (docker compose up) may still be starting.
            given = ("DYNAMODB_ENDPOINT_URL", "SQS_ENDPOINT_URL", "REDIS_URL")
            wait_until_listening([os.environ[name] for name in given if os.environ.get(name)], SERVICES_SECONDS, _say)
        else:
            moto_port = int(os.environ["MOTO_PORT"]) if os.environ.get("MOTO_PORT") else None
            moto = stack.enter_context(MotoServer(moto_port))
            os.environ["DYNAMODB_ENDPOINT_URL"] = moto.endpoint_url
            print(f"moto server (DynamoDB, SQS) on {moto.endpoint_url}", flush=True)
        os.environ.setdefault("SQS_ENDPOINT_URL", os.environ["DYNAMODB_ENDPOINT_URL"])
        if not os.environ.get("SES_ENDPOINT_URL"):
            # SES is moto's, always: DynamoDB and SQS given from outside (docker compose up) serve no SES.
            os.environ["SES_ENDPOINT_URL"] = (moto or stack.enter_context(MotoServer())).endpoint_url
        os.environ.setdefault("ACCOUNT_LINKS_URL", f"http://{host}:{os.environ.get('FRONTEND_PORT', '8501')}")
        print(f"DynamoDB: {os.environ['DYNAMODB_ENDPOINT_URL']}   SQS: {os.environ['SQS_ENDPOINT_URL']}", flush=True)
        if os.environ.get("GITHUB_STUB"):
            github = stack.enter_context(GitHubStub(DEMO_USERS))
            os.environ["GITHUB_API_URL"] = github.url
            print(f"GitHub stub on {github.url} (users: {', '.join(DEMO_USERS)})", flush=True)
        # Before the first get_settings(): the settings are read once, and must see these URLs.
        os.environ.update(create_queues(os.environ["SQS_ENDPOINT_URL"], os.environ["AWS_REGION"]))
        print(f"audit queue: {os.environ['AUDIT_QUEUE_URL']}", flush=True)
        print("tables created:", ", ".join(create_tables(get_settings())), flush=True)
        verify_mail_sender()
        print(f"mail: SES on {os.environ['SES_ENDPOINT_URL']}; links to {os.environ['ACCOUNT_LINKS_URL']}", flush=True)
        reload = os.environ.get("RELOAD", "1") != "0"
        worker = stack.enter_context(closing(RestartingProcess([sys.executable, "-m", "infra.local.audit_worker"])))
        print(f"audit worker (queue poller and outbox relay): pid {worker.process.pid}", flush=True)

        print(first_admin(), flush=True)

        count = int(os.environ.get("INSTANCES", "1"))
        pool: Instances
        if reload:
            pool = stack.enter_context(closing(ReloadingInstances(count)))
            stack.enter_context(CodeWatcher(WATCHED, reloader(pool, worker, _say)))
            print(
                "reload: on; a saved .py under functions/ or layers/shared/ starts new API instances and audit worker"
                " (DynamoDB, SQS and Redis keep their data; RELOAD=0 turns it off)",
                flush=True,
            )
        else:
            from watchlist_api.handler import handler  # after the environment above is in place

            pool = stack.enter_context(closing(instances(count, handler)))
        server = make_server(pool, host, port, mailbox)
        stack.enter_context(printing(mailbox, _say))
        base = f"http://{host}:{server.server_port}"
        public = os.environ.get("PUBLIC_URL") or base
        print(
            f"API (through the Lambda handler, {count} instance{'s' if count > 1 else ''}): {public}   "
            f"docs: {public}/docs   health: {public}/health   mailbox: {public}{MAILBOX_PATH}",
            flush=True,
        )
        if os.environ.get("FRONTEND"):
            frontend_port = os.environ.get("FRONTEND_PORT", "8501")
            stack.enter_context(streamlit(base, host, frontend_port))
            print(f"front end (Streamlit): http://{host}:{frontend_port}", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
            print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
