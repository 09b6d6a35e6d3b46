"""The audit trail end to end, against the moto server over HTTP: API write -> SQS -> audit function -> table
-> admin endpoint; duplicates, poison messages, an SQS outage and a crashed consumer."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.aws.calls import tally_aws_calls
from infra.commands.sample_events import handler_for, load_event, placeholder_values
from infra.local.events import LambdaContext, scheduled_event, sqs_event
from infra.local.servers import free_port
from infra.local.sqs_poller import QueuePoller
from tests.support import PASSWORD, Api, assert_expected_outcome, past_the_refresh_grace
from watchlist_core import wiring
from watchlist_core.audit.events import new_event, user_target
from watchlist_core.audit.message import AuditAction, AuditEvent
from watchlist_core.storage.tables import OutboxRecord
from watchlist_core.wiring import get_audit_worker

ROOT = Path(__file__).resolve().parents[2]
SECRETS_NEVER_AUDITED = (PASSWORD,)


def trail(api: Api, token: str, **query: str) -> list[dict[str, Any]]:
    response = api.get("/v1/admin/audit", token=token, query=query)
    assert response.status == 200, response.body
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def outbox_rows_about(text: str) -> list[OutboxRecord]:
    return [row for row in OutboxRecord.scan() if text in row.body]


def dead_letter_queue_url() -> str:
    return str(os.environ["AUDIT_QUEUE_URL"]).replace("AuditQueue", "AuditDeadLetterQueue")


def test_an_item_write_is_stored_exactly_once_and_read_back_by_admins(
    api: Api, admin_token: str, poller: QueuePoller, sqs: Any
) -> None:
    user, token = api.new_user()
    request_id = f"req-{uuid.uuid4().hex}"
    created = api.post(
        "/v1/watchlists/items",
        token=token,
        json={"title": "Arrival", "type": "movie"},
        headers={"X-Request-ID": request_id},
    )
    assert created.status == 201
    item_id = created.json()["id"]

    poller.drain()
    events = trail(api, admin_token, actor_id=user["id"], action="item.created")

    assert len(events) == 1
    event = events[0]
    assert event["target"] == {"type": "item", "id": item_id, "owner_id": user["id"]}
    assert (event["request_id"], event["source_ip"], event["actor_id"]) == (request_id, api.source_ip, user["id"])
    assert event["occurred_at"].endswith("Z")
    assert queue_depth(sqs, os.environ["AUDIT_QUEUE_URL"]) == 0
    assert outbox_rows_about(item_id) == []  # stored, so the relay has nothing to resend


def test_every_security_and_data_action_is_audited_without_secrets(
    api: Api, admin_token: str, poller: QueuePoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, access = api.new_user()  # registered, logged in
    tokens = api.login(user["email"])  # a second session, whose refresh token is reused (it ends)
    assert api.post("/v1/auth/login", json={"email": user["email"], "password": "wrong password"}).status == 401
    rotated = api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    with past_the_refresh_grace(monkeypatch):
        assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401  # reuse
    item = api.post("/v1/watchlists/items", token=access, json={"title": "Dune", "type": "movie"}).json()
    patched = api.patch(
        f"/v1/watchlists/items/{item['id']}", token=access, json={"status": "watching", "title": "Dune"}
    )
    assert patched.status == 200
    assert api.delete(f"/v1/watchlists/items/{item['id']}", token=access).status == 204
    moderated = api.post("/v1/watchlists/items", token=access, json={"title": "Tenet", "type": "movie"}).json()
    admin_id = api.get("/v1/auth/me", token=admin_token).json()["id"]
    assert api.delete(f"/v1/admin/users/{user['id']}/items/{moderated['id']}", token=admin_token).status == 204
    assert api.patch(f"/v1/admin/users/{user['id']}", token=admin_token, json={"role": "admin"}).status == 200
    assert api.post("/v1/auth/logout", token=access, json={"refresh_token": rotated["refresh_token"]}).status == 204

    poller.drain()
    by_user = trail(api, admin_token, actor_id=user["id"], limit="100")
    by_admin = trail(api, admin_token, actor_id=admin_id, limit="100")

    actions = sorted(event["action"] for event in by_user)
    assert actions == sorted(
        [
            "user.registered",
            "auth.login_succeeded",
            "auth.login_succeeded",
            "auth.refreshed",
            "auth.refresh_reuse_detected",
            "item.created",
            "item.created",
            "item.updated",
            "item.deleted",
            "auth.logout",
        ]
    )
    assert [event["id"] for event in by_user] == sorted((event["id"] for event in by_user), reverse=True)
    updated = next(event for event in by_user if event["action"] == "item.updated")
    assert updated["changes"] == {"status": {"old": "planned", "new": "watching"}}  # the unchanged title is not
    admin_actions = {event["action"]: event for event in by_admin}
    assert admin_actions["admin.item_deleted"]["target"] == {
        "type": "item",
        "id": moderated["id"],
        "owner_id": user["id"],
    }
    assert admin_actions["admin.role_changed"]["changes"] == {"role": {"old": "user", "new": "admin"}}
    failed = trail(api, admin_token, action="auth.login_failed", limit="100")
    assert any(event["target"] == {"type": "user", "id": user["id"], "owner_id": None} for event in failed)
    everything = json.dumps(by_user + by_admin + failed)
    for secret in (
        *SECRETS_NEVER_AUDITED,
        access,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
    ):
        assert secret not in everything


def test_a_failed_login_on_an_unknown_address_records_no_address(
    api: Api, admin_token: str, poller: QueuePoller
) -> None:
    typed = f"my-secret-password-{uuid.uuid4().hex}"  # a password typed into the e-mail field
    assert api.post("/v1/auth/login", json={"email": typed, "password": "x"}).status == 401
    poller.drain()
    failed = trail(api, admin_token, action="auth.login_failed", limit="100")
    assert failed
    assert typed not in json.dumps(failed)
    assert any(event["target"] is None and event["actor_id"] is None for event in failed)


def test_reads_send_nothing_to_sqs_and_writes_send_one_message(api: Api) -> None:
    _, token = api.new_user()
    item = api.post("/v1/watchlists/items", token=token, json={"title": "Alien", "type": "movie"}).json()
    with tally_aws_calls("sqs") as sqs_calls:
        api.get("/v1/watchlists", token=token)
        api.get(f"/v1/watchlists/items/{item['id']}", token=token)
        api.get("/v1/auth/me", token=token)
        assert sqs_calls.total == 0
        api.patch(f"/v1/watchlists/items/{item['id']}", token=token, json={"rating": 9})
        assert dict(sqs_calls.operations) == {"SendMessage": 1}


def test_a_message_delivered_twice_is_stored_once(api: Api, admin_token: str, poller: QueuePoller, sqs: Any) -> None:
    user, _ = api.new_user()
    poller.drain()
    event = new_event(AuditAction.LOGOUT, actor_id=user["id"], target=user_target(user["id"]))
    for _ in range(2):
        sqs.send_message(QueueUrl=os.environ["AUDIT_QUEUE_URL"], MessageBody=event.model_dump_json())

    result = poller.drain()

    assert (result.received, result.deleted) == (2, 2)  # both succeed: the second is a known duplicate
    stored = [e for e in trail(api, admin_token, actor_id=user["id"]) if e["id"] == event.id]
    assert len(stored) == 1


def test_a_poison_message_fails_alone_and_reaches_the_dead_letter_queue(
    api: Api, admin_token: str, poller: QueuePoller, sqs: Any
) -> None:
    user, _ = api.new_user()
    poller.drain()
    good = [new_event(AuditAction.LOGOUT, actor_id=user["id"]) for _ in range(2)]
    poison = json.dumps({"schema_version": 2, "id": "nope", "action": "item.exploded", "marker": uuid.uuid4().hex})
    sqs.send_message_batch(
        QueueUrl=os.environ["AUDIT_QUEUE_URL"],
        Entries=[
            {"Id": "a", "MessageBody": good[0].model_dump_json()},
            {"Id": "p", "MessageBody": poison},
            {"Id": "b", "MessageBody": good[1].model_dump_json()},
        ],
    )

    first = poller.poll_once()

    assert (first.received, first.deleted) == (3, 2)
    stored = {e["id"] for e in trail(api, admin_token, actor_id=user["id"])}
    assert {event.id for event in good} <= stored
    dead_letters: list[str] = []
    deadline = time.monotonic() + 15
    while not dead_letters and time.monotonic() < deadline:
        time.sleep(1.1)  # the test queue's visibility timeout is 1 s
        poller.poll_once()  # receives 2 and 3 fail again; the next receive moves it (maxReceiveCount 3)
        answer = sqs.receive_message(QueueUrl=dead_letter_queue_url(), MaxNumberOfMessages=10)
        dead_letters += [message["Body"] for message in answer.get("Messages", [])]
    assert dead_letters == [poison]
    assert queue_depth(sqs, os.environ["AUDIT_QUEUE_URL"]) == 0


class SqsOutage:
    """SQS unreachable (nothing listens on its port) or refusing (the queue does not exist), until `end()`."""

    def __init__(self, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._working = {name: os.environ[name] for name in ("SQS_ENDPOINT_URL", "AUDIT_QUEUE_URL")}
        if kind == "unreachable":
            monkeypatch.setenv("SQS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        else:
            monkeypatch.setenv("AUDIT_QUEUE_URL", self._working["AUDIT_QUEUE_URL"] + "-deleted")
        wiring.reset()

    def end(self) -> None:
        for name, value in self._working.items():
            self._monkeypatch.setenv(name, value)
        wiring.reset()


@pytest.fixture(params=["unreachable", "refusing"])
def sqs_outage(request: pytest.FixtureRequest, dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> SqsOutage:
    return SqsOutage(request.param, monkeypatch)


def test_events_written_while_sqs_is_down_arrive_once_it_is_back(
    api: Api, admin_token: str, poller: QueuePoller, monkeypatch: pytest.MonkeyPatch, sqs_outage: SqsOutage
) -> None:
    monkeypatch.setenv("AUDIT_OUTBOX_GRACE_SECONDS", "0")  # rows due at once: the relay's next run, without the wait
    wiring.reset()
    user, token = api.new_user()  # registration (a transaction) and login (none) while SQS is down
    with tally_aws_calls("sqs") as sqs_calls:
        created = api.post("/v1/watchlists/items", token=token, json={"title": "Heat", "type": "movie"})
    assert created.status == 201  # the write succeeds regardless
    assert sqs_calls.total == 0  # SQS failed a moment ago: skipped, not waited for
    item_id = created.json()["id"]
    assert len(outbox_rows_about(item_id)) == 1
    assert len(outbox_rows_about(user["id"])) == 3  # registered, logged in, item created

    sqs_outage.end()
    report = get_audit_worker().relay.run()
    assert report.sent >= 3
    poller.drain()

    actions = [event["action"] for event in trail(api, admin_token, actor_id=user["id"])]
    assert sorted(actions) == ["auth.login_succeeded", "item.created", "user.registered"]
    assert outbox_rows_about(user["id"]) == []


def test_readiness_warns_but_passes_while_sqs_is_down(api: Api, sqs_outage: SqsOutage) -> None:
    response = api.get("/v1/health/detailed")
    assert response.status == 200  # writes still succeed: their events wait in the outbox
    body = response.json()
    assert (body["status"], body["checks"]["sqs"]["status"], body["checks"]["dynamodb"]["status"]) == (
        "warn",
        "fail",
        "pass",
    )
    sqs_outage.end()
    assert api.get("/v1/health/detailed").json()["checks"]["sqs"]["status"] == "pass"


def test_the_relay_leaves_fresh_outbox_rows_alone(api: Api, poller: QueuePoller) -> None:
    _, token = api.new_user()
    item_id = api.post("/v1/watchlists/items", token=token, json={"title": "Ran", "type": "movie"}).json()["id"]
    assert len(outbox_rows_about(item_id)) == 1  # sent, not yet stored: the row waits out its grace period

    # Rows other tests left in this session's outbox may be due by now: only this row's own fate counts.
    get_audit_worker().relay.run()
    (row,) = outbox_rows_about(item_id)
    assert row.attempts == 0  # not sent again, no attempt counted
    poller.drain()
    assert outbox_rows_about(item_id) == []


def test_a_consumer_crash_between_storing_and_deleting_stores_no_duplicate(
    api: Api, admin_token: str, poller: QueuePoller, sqs: Any, audit_handler: Any
) -> None:
    user, token = api.new_user()
    poller.drain()
    api.post("/v1/watchlists/items", token=token, json={"title": "Brazil", "type": "movie"})
    queue_url = os.environ["AUDIT_QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    response = audit_handler(sqs_event(messages, attributes["QueueArn"]), LambdaContext("audit"))
    assert response == {"batchItemFailures": []}
    # ...and the process dies here, before the event source deletes the messages.

    time.sleep(1.1)  # the visibility timeout: SQS delivers them again
    result = poller.drain()

    assert (result.received, result.deleted) == (len(messages), len(messages))
    created = trail(api, admin_token, actor_id=user["id"], action="item.created")
    assert len(created) == 1


def test_a_batch_a_broken_new_version_failed_is_stored_once_by_the_version_traffic_goes_back_to(
    api: Api, admin_token: str, poller: QueuePoller, sqs: Any, audit_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a gradual deploy the alias "live" hands some batches to the new version (template.yaml,
    DeploymentPreference). A version that fails them (here: its audit table setting is wrong) deletes nothing; SQS
    delivers them again after the visibility timeout to whichever version the alias then picks, and once the new
    version's alarm has sent the traffic back, to the previous one, which stores each event once. Past
    maxReceiveCount (3) they wait in the dead-letter queue for a redrive instead."""
    user, token = api.new_user()
    poller.drain()
    api.post("/v1/watchlists/items", token=token, json={"title": "Stalker", "type": "movie"})
    monkeypatch.setenv("AUDIT_TABLE", "watchlist-audit-of-a-broken-version")
    wiring.reset()

    failed = poller.poll_once()

    assert failed.received >= 1
    assert failed.deleted == 0
    monkeypatch.delenv("AUDIT_TABLE")  # the previous version's settings, which the rollback restores
    wiring.reset()
    time.sleep(1.1)  # the test queue's visibility timeout
    redelivered = poller.drain()
    assert redelivered.received == redelivered.deleted == failed.received
    assert len(trail(api, admin_token, actor_id=user["id"], action="item.created")) == 1


def test_the_trail_pages_newest_first_and_filters_by_time(api: Api, admin_token: str, poller: QueuePoller) -> None:
    user, token = api.new_user()
    for title in ("One", "Two", "Three"):
        api.post("/v1/watchlists/items", token=token, json={"title": title, "type": "movie"})
    poller.drain()

    first = api.get("/v1/admin/audit", token=admin_token, query={"actor_id": user["id"], "limit": "2"})
    page = first.json()
    assert len(page["items"]) == 2
    assert page["total"] is None
    assert 'rel="next"' in (first.header("link") or "")
    events = page["items"]
    while page["next_cursor"]:
        page = api.get(
            "/v1/admin/audit",
            token=admin_token,
            query={"actor_id": user["id"], "limit": "2", "cursor": page["next_cursor"]},
        ).json()
        events += page["items"]
    ids = [event["id"] for event in events]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 5  # registered, logged in, three items
    assert trail(api, admin_token, actor_id=user["id"], since="2999-01-01T00:00:00Z") == []
    assert len(trail(api, admin_token, actor_id=user["id"], since="2000-01-01T00:00:00Z")) == 5


def test_the_trail_refuses_bad_filters_and_non_admins(api: Api, admin_token: str) -> None:
    _, token = api.new_user()
    assert api.get("/v1/admin/audit", token=token).status == 403
    for query in ({"action": "item.exploded"}, {"since": "yesterday"}, {"actor_id": "x"}, {"limit": "0"}):
        response = api.get("/v1/admin/audit", token=admin_token, query=query)
        assert response.status == 422, query
        assert response.header("content-type") == "application/problem+json"
    tampered = api.get("/v1/admin/audit", token=admin_token, query={"cursor": "bm90LWEtY3Vyc29y"})
    assert tampered.status == 422


def test_the_sample_audit_events_get_their_expected_outcomes(dynamodb: str, api: Api, admin_token: str) -> None:
    samples = ROOT / "events" / "audit"
    values = placeholder_values()
    handler = handler_for(samples / "batch__stored.json")

    for path in sorted(samples.glob("*.json")):
        event = load_event(path, values)
        assert_expected_outcome(path, event, handler(event, LambdaContext("audit")))

    events = trail(api, admin_token, actor_id=values["user_id"], limit="100")
    sample_ids = [event["id"] for event in events if event["request_id"] == f"req-{values['unique']}"]
    assert sorted(sample_ids) == sorted([values["event_id_1"], values["event_id_2"], values["event_id_3"]])


def test_the_sample_relay_event_runs_the_relay(dynamodb: str) -> None:
    path = ROOT / "events" / "relay" / "scheduled__report.json"
    event = load_event(path, {})
    assert event["detail-type"] == scheduled_event("x")["detail-type"]
    assert_expected_outcome(path, event, handler_for(path)(event, LambdaContext("outbox-relay")))


def test_the_audit_message_schema_refuses_what_it_does_not_know() -> None:
    event = new_event(AuditAction.LOGOUT, actor_id="someone")
    body = json.loads(event.model_dump_json())
    assert AuditEvent.model_validate(body) == event
    for change in ({"schema_version": 2}, {"password": "x"}, {"action": "auth.unknown"}, {"id": "short"}):
        with pytest.raises(ValidationError):
            AuditEvent.model_validate(body | change)
