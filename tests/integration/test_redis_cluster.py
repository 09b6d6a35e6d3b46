"""What only a Redis Cluster can do to the guards: keys on several shards, one shard losing its data, dying or
hanging, a slot migrating while requests flow, a failover to a replica. (Everything a single server is tested for
runs on a cluster too: test_redis.py and test_redis_failures.py take both.)"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.client import Pipeline
from redis.crc import key_slot

from infra.aws.calls import tally_aws_calls
from infra.local.instances import LambdaHandler
from infra.local.redis_cluster import ClusterNode, LocalRedisCluster
from tests.integration.conftest import ConnectionAttempts
from tests.support import Api, ApiResponse
from watchlist_core import wiring
from watchlist_core.state import keys


@pytest.fixture
def cluster(dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRedisCluster]:
    """A three-primary cluster this test alone uses (it may kill, empty or freeze a node), named by one node's URL."""
    with LocalRedisCluster(primaries=3) as cluster:
        _use(cluster, monkeypatch)
        yield cluster


def _use(cluster: LocalRedisCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", cluster.url)
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "1000/60")  # the tests sign many users in from one address
    monkeypatch.setenv("RATE_LIMIT_ANONYMOUS", "1000/60")
    monkeypatch.setenv("RATE_LIMIT_REGISTER", "1000/60")
    wiring.reset()


@dataclass(frozen=True)
class SentPipeline:
    slots: set[int]  # the hash slots of its keys
    errors: set[str]  # what Redis answered instead of a result, if anything: AskError, MovedError


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[SentPipeline]:
    """Every pipeline the app sends, in order."""
    sent: list[SentPipeline] = []
    execute = Pipeline.execute

    def spy(pipeline: Pipeline, *args: Any, **kwargs: Any) -> Any:
        slots = {key_slot(str(command[1]).encode()) for command, _ in pipeline.command_stack}
        results = execute(pipeline, *args, **kwargs)
        sent.append(SentPipeline(slots, {type(result).__name__ for result in results if isinstance(result, Exception)}))
        return results

    monkeypatch.setattr(Pipeline, "execute", spy)
    return sent


class Member:
    """A user and one signed-in session, and the cluster node that holds their keys."""

    def __init__(self, api: Api, cluster: LocalRedisCluster) -> None:
        self.api = api
        self.user, self.token = api.new_user()
        self.id: str = self.user["id"]
        self.node = cluster.primary_of(keys.user(self.id))

    def another_session(self) -> str:
        return str(self.api.login(self.user["email"])["access_token"])

    def get(self, path: str = "/v1/auth/me", token: str | None = None) -> ApiResponse:
        return self.api.get(path, token=token or self.token)


def member_on(node: ClusterNode, api: Api, cluster: LocalRedisCluster) -> Member:
    while (member := Member(api, cluster)).node is not node:
        pass
    return member


def members_on_different_shards(api: Api, cluster: LocalRedisCluster) -> tuple[Member, Member]:
    first = Member(api, cluster)
    while (second := Member(api, cluster)).node is first.node:
        pass
    return first, second


def guarded(response: ApiResponse) -> bool:
    """Redis counted the request (its rate limit answered)."""
    return response.header("ratelimit") is not None


def assert_guarded(member: Member) -> None:
    """Counted, cached and revocable: every guard holds for this member's requests."""
    first, second = member.get(), member.get()
    assert guarded(first), f"no rate limit for a user on {member.node.port}"
    assert (first.header("x-cache"), second.header("x-cache")) == ("MISS", "HIT")
    assert member.api.post("/v1/auth/logout", token=member.token).status == 204
    assert member.get().status == 401


def test_any_nodes_url_reaches_the_whole_cluster(
    handler: LambdaHandler, cluster: LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(handler)
    for node in cluster.primaries:
        monkeypatch.setenv("REDIS_URL", node.url)
        wiring.reset()
        for shard in cluster.primaries:
            assert_guarded(member_on(shard, api, cluster))


def test_a_cluster_that_speaks_only_tls_is_reached_through_rediss(
    handler: LambdaHandler, dynamodb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-transit encryption, as ElastiCache requires it: the nodes listen on TLS ports only."""
    with LocalRedisCluster(primaries=3, tls=True) as cluster:
        _use(cluster, monkeypatch)
        assert cluster.url.startswith("rediss://")
        api = Api(handler)
        for shard in cluster.primaries:
            assert_guarded(member_on(shard, api, cluster))


def test_every_pipeline_touches_one_hash_slot(
    handler: LambdaHandler, cluster: LocalRedisCluster, pipelines: list[SentPipeline], log_lines: io.StringIO
) -> None:
    api = Api(handler)
    member = Member(api, cluster)
    for _ in range(3):
        api.post("/v1/auth/login", json={"email": member.user["email"], "password": "wrong"})
    item = api.post("/v1/watchlists/items", token=member.token, json={"title": "Heat", "type": "movie"}).json()
    api.get("/v1/watchlists", token=member.token)
    api.patch(f"/v1/watchlists/items/{item['id']}", token=member.token, json={"rating": 9})
    api.get("/v1/health/detailed")
    api.post("/v1/auth/logout", token=member.token)
    assert len(pipelines) > 10
    assert all(len(pipeline.slots) == 1 for pipeline in pipelines), pipelines
    assert "redis unavailable" not in log_lines.getvalue()


def test_a_shard_that_loses_its_data_forgets_no_logout_and_the_others_pay_nothing(
    handler: LambdaHandler, cluster: LocalRedisCluster
) -> None:
    api = Api(handler)
    emptied, kept = members_on_different_shards(api, cluster)
    ended = {member.id: member.another_session() for member in (emptied, kept)}
    for member in (emptied, kept):
        assert api.post("/v1/auth/logout", token=ended[member.id]).status == 204
        assert [member.get().header("x-cache") for _ in range(2)] == ["MISS", "HIT"]

    cluster.restart_empty(emptied.node)  # a primary replaced without a replica: its slots, none of their keys

    with tally_aws_calls("dynamodb") as elsewhere:
        assert kept.get(token=ended[kept.id]).status == 401
        assert kept.get().header("x-cache") == "HIT"
    assert elsewhere.total == 0  # the other shards remember: no session read, no table read
    with tally_aws_calls("dynamodb") as checked:
        assert emptied.get(token=ended[emptied.id]).status == 401  # its session, in DynamoDB, says it ended
        assert emptied.get().status == 200
    assert checked.operations["GetItem"] >= 2  # each session once (and the user, the cache being gone too)
    with tally_aws_calls("dynamodb") as remembered:
        assert emptied.get(token=ended[emptied.id]).status == 401
        assert emptied.get().header("x-cache") == "HIT"
    assert remembered.total == 0  # the verdicts are remembered: steady state again


def _remaining(responses: list[ApiResponse]) -> list[int]:
    return [int(response.header("x-ratelimit-remaining") or -1) for response in responses]


def test_requests_keep_every_guard_while_their_slot_migrates(
    handler: LambdaHandler,
    cluster: LocalRedisCluster,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: io.StringIO,
    pipelines: list[SentPipeline],
) -> None:
    monkeypatch.setenv("RATE_LIMIT_USER", "20/3600")
    wiring.reset()
    api = Api(handler)
    member = Member(api, cluster)
    doomed = member.another_session()
    before = [member.get() for _ in range(4)]
    slot = key_slot(keys.user(member.id).encode())
    target = next(node for node in cluster.primaries if node is not member.node)

    # Migrating: every key of the slot but one has moved, and the source answers ASK for those.
    source = cluster.move_slot(slot, target, leave_behind=1)
    migrating_from = len(pipelines)
    during = [member.get() for _ in range(4)]
    assert api.post("/v1/auth/logout", token=doomed).status == 204  # counted: 11 left
    assert member.get(token=doomed).status == 401  # counted too: 10 left
    asked = [pipeline.errors for pipeline in pipelines[migrating_from:] if pipeline.errors]
    assert len(asked) >= len(during)  # each admission at least: some of its keys here, some there
    assert all(errors == {"AskError"} for errors in asked)
    moved_from = len(pipelines)
    cluster.finish_moving_slot(slot, source, target)  # moved: the source answers MOVED, the client learns
    after = [member.get() for _ in range(20)]

    assert cluster.primary_of(keys.user(member.id)) is target
    # One pipeline sent to the old owner, then none.
    assert [pipeline.errors for pipeline in pipelines[moved_from:] if pipeline.errors] == [{"MovedError"}]
    # Every request counted exactly once, on whichever node held the counter at the time.
    assert _remaining(before) == [19, 18, 17, 16]
    assert _remaining(during) == [15, 14, 13, 12]
    assert [response.status for response in after] == [200] * 10 + [429] * 10
    assert _remaining(after[:10]) == list(range(9, -1, -1))
    assert [response.header("x-cache") for response in during[-1:] + after[:1]] == ["HIT", "HIT"]
    assert "redis unavailable" not in log_lines.getvalue()  # redirects are followed, never taken for an outage


def test_a_dead_primary_turns_off_only_its_own_shards_guards(
    handler: LambdaHandler, cluster: LocalRedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(handler)
    # Not the node REDIS_URL names: a new instance (the services rebuilt below) finds the cluster through it.
    stranded, served = member_on(cluster.primaries[1], api, cluster), member_on(cluster.primaries[2], api, cluster)
    sessions = {member.id: member.another_session() for member in (stranded, served)}
    for member in (stranded, served):
        member.get()
    stranded.node.kill()  # no replica: its slots have no primary until one is brought back

    answers = [stranded.get("/v1/watchlists") for _ in range(3)]
    assert [(a.status, guarded(a), a.header("x-cache")) for a in answers] == [(200, False, "MISS")] * 3
    assert api.post("/v1/auth/logout", token=sessions[stranded.id]).status == 503  # cannot be ended in Redis
    # Ended in DynamoDB all the same, which decides while the shard cannot answer (REVOCATION_FAIL_MODE=dynamodb).
    assert stranded.get(token=sessions[stranded.id]).status == 401

    answers = [served.get() for _ in range(2)]
    assert [(a.status, guarded(a), a.header("x-cache")) for a in answers] == [(200, True, "HIT")] * 2
    assert api.post("/v1/auth/logout", token=sessions[served.id]).status == 204
    assert served.get(token=sessions[served.id]).status == 401
    health = api.get("/v1/health/detailed").json()
    assert (health["status"], health["checks"]["redis"]["status"]) == ("warn", "fail")

    monkeypatch.setenv("REVOCATION_FAIL_MODE", "closed")
    wiring.reset()
    assert stranded.get().status == 503
    assert served.get().status == 200


def test_a_hung_primary_costs_its_shard_one_timeout_and_the_others_nothing(
    handler: LambdaHandler,
    cluster: LocalRedisCluster,
    monkeypatch: pytest.MonkeyPatch,
    redis_connections: ConnectionAttempts,
) -> None:
    monkeypatch.setenv("REDIS_PAUSE_AFTER_FAILURE_SECONDS", "3600")
    wiring.reset()
    api = Api(handler)
    stuck, served = members_on_different_shards(api, cluster)
    stuck.get(), served.get()
    opened = len(redis_connections)
    stuck.node.freeze()  # SIGSTOP: the kernel accepts connections, nothing answers
    try:
        stuck_answers = [stuck.get("/v1/watchlists") for _ in range(3)]
        served_answers = [served.get() for _ in range(3)]
    finally:
        stuck.node.thaw()
    assert [(a.status, guarded(a)) for a in stuck_answers] == [(200, False)] * 3
    assert [(a.status, guarded(a), a.header("x-cache")) for a in served_answers] == [(200, True, "HIT")] * 3
    # One wait on the pooled connection to the hung node, then it is left alone: no new connection to it.
    assert [port for port, _ in redis_connections[opened:] if port == stuck.node.port] == []


@pytest.fixture
def replicated_cluster(dynamodb: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(primaries=3, replicas=1, node_timeout_ms=1000) as cluster:
        _use(cluster, monkeypatch)
        yield cluster


def test_after_a_failover_the_promoted_replica_serves_the_shard(
    handler: LambdaHandler, replicated_cluster: LocalRedisCluster
) -> None:
    api = Api(handler)
    failed = replicated_cluster.primaries[0]  # the node REDIS_URL names, the hardest case: the way in is gone too
    member = member_on(failed, api, replicated_cluster)
    doomed = member.another_session()
    assert guarded(member.get())
    failed.kill()
    started = time.monotonic()
    while not guarded(answer := member.get()):
        assert answer.status == 200  # meanwhile the shard fails open, no error
        assert time.monotonic() - started < 60, "the promoted replica was never used"
        time.sleep(0.05)
    promoted = replicated_cluster.primary_of(keys.user(member.id))
    assert promoted is not failed
    assert promoted in replicated_cluster.replicas
    assert api.post("/v1/auth/logout", token=doomed).status == 204
    assert member.get(token=doomed).status == 401
    assert [member.get("/v1/watchlists").header("x-cache") for _ in range(2)] == ["MISS", "HIT"]
