"""Data access against in-process moto: counts, roles and sessions."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from infra.aws.calls import intercepting_aws_calls, tally_aws_calls
from watchlist_core.domain import ItemChanges, ItemDraft, ItemQuery, ItemStatus, ItemType, Registration, Role
from watchlist_core.errors import ConflictError, DependencyUnavailableError
from watchlist_core.settings import get_settings
from watchlist_core.storage import items
from watchlist_core.storage.items import ItemStore, derived_keys
from watchlist_core.storage.outbox import OutboxStore
from watchlist_core.storage.pagination import CursorCodec
from watchlist_core.storage.sessions import Rotation, SessionOrigin, SessionStore
from watchlist_core.storage.tables import TallyRecord, connection_for
from watchlist_core.storage.transactions import NamedWrites, run_transaction
from watchlist_core.wiring import Services, signing_key


def test_counts_follow_creates_changes_and_deletes(services: Services) -> None:
    user = services.auth.register(Registration(email="c@example.com", password="p" * 10))
    watchlists = services.watchlists
    movie = watchlists.add(user.id, ItemDraft(title="A", type=ItemType.MOVIE))
    watchlists.add(user.id, ItemDraft(title="B", type=ItemType.SHOW, status=ItemStatus.WATCHING))
    watchlists.change(user.id, movie.id, ItemChanges(type=ItemType.SHOW, status=ItemStatus.COMPLETED))
    assert watchlists.list(user.id, ItemQuery(type=ItemType.SHOW)).total == 2
    assert watchlists.list(user.id, ItemQuery(type=ItemType.MOVIE)).total == 0
    assert watchlists.list(user.id, ItemQuery(status=ItemStatus.COMPLETED)).total == 1
    watchlists.remove(user.id, movie.id)
    assert watchlists.list(user.id, ItemQuery()).total == 1


def test_an_empty_change_writes_nothing(services: Services) -> None:
    user = services.auth.register(Registration(email="e@example.com", password="p" * 10))
    item = services.watchlists.add(user.id, ItemDraft(title="A", type=ItemType.MOVIE))
    assert services.watchlists.change(user.id, item.id, ItemChanges()).version == 1
    # Setting fields to the values they have is no change either: no write, no new version, no audit event.
    same = ItemChanges(title="A", status=item.status)
    with tally_aws_calls("dynamodb") as dynamodb, tally_aws_calls("sqs") as sqs:
        assert services.watchlists.change(user.id, item.id, same).version == 1
    assert "TransactWriteItems" not in dynamodb.operations
    assert sqs.total == 0


def test_the_admin_tally_guards_the_last_admin(services: Services) -> None:
    first, _ = services.auth.ensure_admin("root@example.com", "p" * 10)
    second, _ = services.auth.ensure_admin("second@example.com", "p" * 10)
    assert services.admin.change_role(first.id, second.id, Role.USER).role is Role.USER
    with pytest.raises(ConflictError, match="last admin"):
        services.admin.change_role(first.id, first.id, Role.USER)
    assert services.admin.change_role(first.id, first.id, Role.ADMIN).role is Role.ADMIN  # no-op keeps the tally


def test_a_session_rotates_only_from_its_current_token(services: Services) -> None:
    sessions = SessionStore()
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions.start("s1", "u1", "jti-1", expires, SessionOrigin(datetime.now(UTC), "tests", "203.0.113.7"))
    now = datetime.now(UTC).replace(microsecond=0)
    assert sessions.rotate("s1", "jti-1", Rotation("jti-2", "access-2", now, expires))
    assert not sessions.rotate("s1", "jti-1", Rotation("jti-3", "access-3", now, expires))
    rotated = sessions.get("s1")
    assert rotated is not None
    assert (rotated.current_jti, rotated.previous_jti, rotated.access_jti, rotated.rotated_at) == (
        "jti-2",
        "jti-1",
        "access-2",
        now,
    )
    sessions.revoke("s1")
    assert not sessions.rotate("s1", "jti-2", Rotation("jti-3", "access-3", now, expires))
    session = sessions.get("s1")
    assert session is not None
    assert session.revoked
    sessions.revoke("unknown")  # revoking nothing is fine
    assert sessions.get("unknown") is None


@pytest.mark.parametrize("title", ["ΐ" * 200, "\U0001f600" * 200, "ß" * 200, "A" * 200])
def test_every_derived_sort_key_fits_dynamodbs_key_limit(title: str) -> None:
    item_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    keys = derived_keys(item_id, {"title": title, "type": "movie", "rating": 10, "year": 2026})
    assert all(len(key.encode()) <= 1024 for key in keys.values()), {k: len(v.encode()) for k, v in keys.items()}
    assert keys["title_key"].endswith("\x00" + item_id)


@pytest.mark.parametrize("failing", ["update", "put", "delete"])
def test_a_refused_transaction_names_the_write_whose_condition_failed(services: Services, failing: str) -> None:
    """Added in the opposite order to the one PynamoDB sends them in (deletes, puts, updates): the refusal still
    names the right write, so NamedWrites' reading of DynamoDB's cancellation reasons holds."""
    TallyRecord(pk="TALLY#updated", value=1).save()
    TallyRecord(pk="TALLY#deleted", value=1).save()
    if failing == "put":
        TallyRecord(pk="TALLY#put", value=1).save()

    def build(writes: NamedWrites) -> None:
        writes.update(
            "update",
            TallyRecord(pk="TALLY#updated"),
            actions=[TallyRecord.value.add(1)],
            condition=TallyRecord.value > (5 if failing == "update" else 0),
        )
        writes.put("put", TallyRecord(pk="TALLY#put", value=1), condition=TallyRecord.pk.does_not_exist())
        writes.delete(
            "delete",
            TallyRecord(pk="TALLY#deleted"),
            condition=TallyRecord.value > (5 if failing == "delete" else 0),
        )

    refusals = {name: partial(ConflictError, name) for name in ("update", "put", "delete")}
    with pytest.raises(ConflictError) as refused:
        run_transaction(connection_for(get_settings()), build, refusals)
    assert refused.value.detail == failing


def test_each_transaction_carries_its_own_client_request_token(services: Services) -> None:
    """botocore resends a request whose answer it lost, with the same parameters: the token lets DynamoDB
    answer a resend of a committed transaction with success (moto ignores it; this checks that it is sent)."""
    sent: list[dict[str, Any]] = []

    def recording(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        if operation == "TransactWriteItems":
            sent.append(params)
        return send()

    with intercepting_aws_calls(recording):
        for number in range(2):
            services.auth.register(Registration(email=f"t{number}@example.com", password="p" * 10))
    tokens = [params.get("ClientRequestToken") for params in sent]
    assert len(tokens) == 2
    assert all(isinstance(token, str) and 1 <= len(token) <= 36 for token in tokens)
    assert tokens[0] != tokens[1]


def item_store(services: Services) -> ItemStore:
    outbox = OutboxStore(services.settings.audit_outbox_grace_seconds)
    return ItemStore(connection_for(services.settings), outbox, CursorCodec(signing_key))


def _leave_unprocessed(unprocessed: Callable[[int], int]) -> Callable[..., Any]:
    """An interceptor under which DynamoDB processes a BatchWriteItem's first requests only, and hands back the last
    `unprocessed(n)` of its n requests, as it does when it throttles a partition."""

    def intercept(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        if operation != "BatchWriteItem":
            return send()
        [(table, requests)] = params["RequestItems"].items()
        cut = len(requests) - unprocessed(len(requests))
        left = requests[cut:]
        del requests[cut:]  # what `send` sends
        answer = send() if requests else {"UnprocessedItems": {}}
        if left:
            answer["UnprocessedItems"] = {table: left}
        return answer

    return intercept


def test_a_purge_sends_again_what_dynamodb_left_unprocessed(services: Services) -> None:
    user = services.auth.register(Registration(email="purge@example.com", password="p" * 10))
    for number in range(30):
        services.watchlists.add(user.id, ItemDraft(title=f"T{number}", type=ItemType.MOVIE))
    throttled = iter([10, 0, 0])  # the first request leaves 10 of its 25; the rest go through
    with intercepting_aws_calls(_leave_unprocessed(lambda n: next(throttled))), tally_aws_calls("dynamodb") as calls:
        assert item_store(services).purge(user.id) == 30
    assert calls.operations["BatchWriteItem"] == 3
    assert services.watchlists.list(user.id, ItemQuery(limit=100)).items == []


def test_a_purge_throttled_for_good_is_a_dependency_unavailable_and_deletes_what_it_could(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(items, "_UNPROCESSED_PAUSE_SECONDS", 0)
    user = services.auth.register(Registration(email="throttled@example.com", password="p" * 10))
    for number in range(3):
        services.watchlists.add(user.id, ItemDraft(title=f"T{number}", type=ItemType.MOVIE))
    with intercepting_aws_calls(_leave_unprocessed(lambda n: min(n, 2))), pytest.raises(DependencyUnavailableError):
        item_store(services).purge(user.id)
    assert len(services.watchlists.list(user.id, ItemQuery()).items) == 2
