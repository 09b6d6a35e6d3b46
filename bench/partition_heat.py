"""Where the design stops scaling: each DynamoDB partition's load, the audit consumer and the account quotas.

Runs the stated mix through the API handler (and its audit events through the audit handler) against the moto
server and a redis-server, records the capacity units each request used in each partition (infra/aws/partitions.py),
and scales them to a rate. A key holding one entity's data (a user, an item, an event) is spread over that many
keys, so it is shown per active user; a shard key (`<base>#<k>`) over its shards; any other key is one partition
and takes the whole load. Each is compared with DynamoDB's limit per partition, 3,000 read and 1,000 write units a
second (a global index short of capacity throttles its table's writes too). The API's durations are measured
here against moto; the audit batch's against moto with the stated in-region latency added to each DynamoDB
request (bench/_common.py), since its requests wait side by side; the quotas are AWS's defaults as documented.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from bench._common import captured_output, dynamodb_latency, local_stack, uncached
from infra.aws.partitions import PartitionMeter, Touch, key_shape
from infra.aws.template import load_template
from infra.local.events import LambdaContext, sqs_event
from tests.support import PASSWORD, Api, unique_email

PEAK_RPS = 10_000
TARGET_RPS = 50_000
ACTIVE_USERS = 200_000
# The stated mix at the peak, requests a second: 80 % cached reads, 15 % uncached lists, 5 % item writes,
# and the sessions of the active users (an access token lasts 15 minutes; a login every 8 hours; sign-ups).
MIX = {
    "cached list": 0.80 * PEAK_RPS,
    "uncached list": 0.15 * PEAK_RPS,
    "item create": 0.025 * PEAK_RPS,
    "item update": 0.0175 * PEAK_RPS,
    "item delete": 0.0075 * PEAK_RPS,
    "refresh": ACTIVE_USERS / 900,
    "login": ACTIVE_USERS / (8 * 3600),
    "registration": 10.0,
}
READ_LIMIT, WRITE_LIMIT = 3000.0, 1000.0  # capacity units a second per partition
API_GATEWAY_RPS = 10_000  # requests a second per account and region (a quota raised on request)
LAMBDA_CONCURRENCY = 1_000  # concurrent executions per account and region (likewise)
LAMBDA_SCALING = 1_000  # instances a function may add every 10 seconds
TABLE_QUOTA = 40_000.0  # on-demand read and write units a second per table, and per global index (likewise)
USERS = 24
ROUNDS = 24
AUDIT_BATCH = 10  # the template's BatchSize


@dataclass
class Kind:
    """One kind of request: what it used per request, in which partitions, and how long it took."""

    units: dict[tuple[str, str | None, str], list[float]]
    audit_events: float
    milliseconds: float


class Mix:
    def __init__(self, handler: Any, audit_handler: Any) -> None:
        self.handler = handler
        self.audit_handler = audit_handler
        self.meter = PartitionMeter()
        self.sqs: Any = boto3.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT_URL"])
        self.queue_url = os.environ["AUDIT_QUEUE_URL"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.users: list[tuple[Api, dict[str, Any], dict[str, Any]]] = []
        self.audit_batches_ms: list[float] = []
        self.audit_units: dict[tuple[str, str | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.audit_stored = 0

    def api(self, number: int) -> Api:
        return Api(self.handler, source_ip=f"198.51.100.{number % 250 + 1}")  # one address per user, as on phones

    def setup(self) -> None:
        for number in range(USERS):
            api = self.api(number)
            user = api.register()
            tokens = api.login(user["email"])
            items = [
                api.post("/v1/watchlists/items", token=tokens["access_token"], json={"title": f"F{n}", "type": "movie"})
                for n in range(20)
            ]
            assert all(item.status == 201 for item in items)
            self.users.append((api, user, tokens))
        self.drain_audit(metered=False)

    def requests(self) -> dict[str, Callable[[int], tuple[Callable[[], object], Callable[[], Any]]]]:
        """Kind -> for a round number, (prepare, request): prepare is neither metered nor timed."""

        def of(number: int) -> tuple[Api, dict[str, Any], dict[str, Any]]:
            return self.users[number % USERS]

        def listing(number: int, cached: bool) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, user, tokens = of(number)

            def call() -> Any:
                return api.get("/v1/watchlists", token=tokens["access_token"])

            return (call if cached else lambda: uncached(user["id"])), call

        def create(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, _, tokens = of(number)
            return lambda: None, lambda: api.post(
                "/v1/watchlists/items", token=tokens["access_token"], json={"title": f"N{number}", "type": "show"}
            )

        def first_item(api: Api, token: str) -> str:
            return str(api.get("/v1/watchlists", token=token, query={"limit": "1"}).json()["items"][0]["id"])

        def update(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, _, tokens = of(number)
            item: list[str] = []
            return lambda: item.append(first_item(api, tokens["access_token"])), lambda: api.patch(
                f"/v1/watchlists/items/{item[0]}", token=tokens["access_token"], json={"rating": number % 10 + 1}
            )

        def delete(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, _, tokens = of(number)
            item: list[str] = []
            return lambda: item.append(first_item(api, tokens["access_token"])), lambda: api.delete(
                f"/v1/watchlists/items/{item[0]}", token=tokens["access_token"]
            )

        def refresh(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, _, tokens = of(number)

            def call() -> Any:
                answer = api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
                tokens.update(answer.json())
                return answer

            return lambda: None, call

        def login(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api, user, _ = of(number)
            return lambda: None, lambda: api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD})

        def registration(number: int) -> tuple[Callable[[], object], Callable[[], Any]]:
            api = self.api(USERS + number)
            return lambda: None, lambda: api.post(
                "/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}
            )

        return {
            "cached list": lambda n: listing(n, cached=True),
            "uncached list": lambda n: listing(n, cached=False),
            "item create": create,
            "item update": update,
            "item delete": delete,
            "refresh": refresh,
            "login": login,
            "registration": registration,
        }

    def measure(self, make: Callable[[int], tuple[Callable[[], object], Callable[[], Any]]]) -> Kind:
        units: dict[tuple[str, str | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        durations = []
        self.drain_audit(metered=False)
        for number in range(ROUNDS):
            prepare, call = make(number)
            prepare()
            with self.meter.metering() as touches, captured_output():
                touches.clear()
                answer = call()
            assert answer.status < 400, (answer.status, answer.body)
            add(units, touches, 1 / ROUNDS)
            prepare, call = make(number + ROUNDS)  # another, timed without the meter's own reads
            prepare()
            started = time.perf_counter()
            with captured_output():
                call()
            durations.append((time.perf_counter() - started) * 1000)
        events = self.drain_audit(metered=True) / (2 * ROUNDS)
        return Kind(units=dict(units), audit_events=events, milliseconds=statistics.median(durations))

    def drain_audit(self, metered: bool) -> int:
        """Every waiting audit message through the audit handler, in batches of ten; how many were stored."""
        stored = 0
        while True:
            messages: list[dict[str, Any]] = []
            while len(messages) < AUDIT_BATCH:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=AUDIT_BATCH, AttributeNames=["All"], WaitTimeSeconds=0
                )
                if not answer.get("Messages"):
                    break
                messages += answer["Messages"]
            if not messages:
                return stored
            event = sqs_event(messages, self.queue_arn)
            if metered:
                with self.meter.metering() as touches:
                    touches.clear()
                    self.run_audit(event)
                add(self.audit_units, touches, 1.0)
                self.audit_stored += len(messages)
                stored += len(messages)
                continue
            started = time.perf_counter()
            self.run_audit(event)
            if len(messages) == AUDIT_BATCH:
                self.audit_batches_ms.append((time.perf_counter() - started) * 1000)

    def run_audit(self, event: dict[str, Any]) -> None:
        with captured_output():
            answer = self.audit_handler(event, LambdaContext("audit"))
        assert answer == {"batchItemFailures": []}, answer


def add(units: dict[tuple[str, str | None, str], list[float]], touches: list[Touch], weight: float) -> None:
    for touch in touches:
        entry = units[(touch.table, touch.index, touch.key)]
        entry[0] += touch.read_units * weight
        entry[1] += touch.write_units * weight


def main() -> None:
    template = load_template()
    audit_source = template["Resources"]["AuditFunction"]["Properties"]["Events"]["AuditMessages"]["Properties"]
    audit_concurrency = int(audit_source["ScalingConfig"]["MaximumConcurrency"])
    stage_throttle = int(template["Parameters"]["ApiThrottleRateLimit"]["Default"])
    # The meter's own reads slow moto down; past the deployed 0.8 s, botocore would resend a committed
    # transaction, which moto (ignoring its ClientRequestToken) would run again.
    os.environ["DYNAMODB_READ_TIMEOUT_SECONDS"] = "5"
    with local_stack():
        from watchlist_api.handler import handler
        from watchlist_audit.handler import handler as audit_handler

        mix = Mix(handler, audit_handler)
        with captured_output():
            mix.setup()
        kinds = {name: mix.measure(make) for name, make in mix.requests().items()}
        timed: list[float] = []
        create = mix.requests()["item create"]
        for batch in range(8):  # the audit batch time, unmetered: the events of ten new items at a time
            with captured_output():
                for number in range(AUDIT_BATCH):
                    create(batch * AUDIT_BATCH + number)[1]()
            mix.audit_batches_ms = []
            with dynamodb_latency():
                mix.drain_audit(metered=False)
            timed += mix.audit_batches_ms

    # Units a second at the peak, per partition key, then per pattern.
    produced = sum(MIX[name] * kind.audit_events for name, kind in kinds.items())
    at_peak: dict[tuple[str, str | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for name, kind in kinds.items():
        for key, (read, write) in kind.units.items():
            at_peak[key][0] += MIX[name] * read
            at_peak[key][1] += MIX[name] * write
    for key, (read, write) in mix.audit_units.items():
        at_peak[key][0] += produced * read / mix.audit_stored
        at_peak[key][1] += produced * write / mix.audit_stored

    patterns: dict[tuple[str, str, str, str], list[Any]] = {}
    for (table, index, partition), (read, write) in at_peak.items():
        shape, pattern = key_shape(partition)
        entry = patterns.setdefault((table, index or "(table)", pattern, shape), [0.0, 0.0, set()])
        entry[0] += read
        entry[1] += write
        entry[2].add(partition)
    rows = []
    for (table, index, pattern, shape), (read, write, keys) in patterns.items():
        spread = ACTIVE_USERS if shape == "entity" else len(keys) if shape == "shard" else 1
        read_key, write_key = read / spread, write / spread
        share = max(read_key / READ_LIMIT, write_key / WRITE_LIMIT)
        spread_text = f"over {spread:,} active users" if shape == "entity" else f"{spread} shard(s) seen"
        rows.append((share, table, index, pattern, spread_text, read_key, write_key))
    rows.sort(reverse=True)

    print(f"partition heat at {PEAK_RPS:,} rps (mix per second: " + ", ".join(f"{k} {v:g}" for k, v in MIX.items()))
    print(f"plus {produced:.0f} audit events a second through the audit function); hottest single key per pattern:\n")
    print(
        f"{'table':22} {'index':10} {'key pattern':28} {'spread':26} {'RCU/s':>9} {'WCU/s':>9} "
        f"{'of limit':>8} {'at rps':>11}"
    )
    ceilings: list[tuple[float, str]] = []
    for share, table, index, pattern, spread_text, read_key, write_key in rows[:14]:
        reached = PEAK_RPS / share if share else math.inf
        print(
            f"{table:22} {index:10} {pattern[:28]:28} {spread_text:26} {read_key:9.2f} {write_key:9.2f} "
            f"{share:8.1%} {reached:11,.0f}"
        )
    for share, table, index, pattern, _, _, _ in rows:
        if share:
            ceilings.append((PEAK_RPS / share, f"partition {table}/{index} key {pattern}"))

    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (table, index, _), (read, write) in at_peak.items():
        totals[(table, index or "(table)")][0] += read
        totals[(table, index or "(table)")][1] += write
    (busiest, index), (read_total, write_total) = max(totals.items(), key=lambda entry: max(entry[1]))
    table_share = max(read_total, write_total) / TABLE_QUOTA
    ceilings.append(
        (PEAK_RPS / table_share, f"DynamoDB's table quota ({TABLE_QUOTA:,.0f} units/s) on {busiest}/{index}")
    )
    print(
        f"\nbusiest table or index: {busiest}/{index}, {read_total:,.0f} RCU/s and {write_total:,.0f} WCU/s at "
        f"{PEAK_RPS:,} rps ({table_share:.1%} of the {TABLE_QUOTA:,.0f} on-demand quota, reached at "
        f"{PEAK_RPS / table_share:,.0f} rps)"
    )

    batch_ms = statistics.median(timed)
    per_instance = AUDIT_BATCH / (batch_ms / 1000)
    drains = audit_concurrency * per_instance
    ceilings.append((PEAK_RPS * drains / produced, f"audit consumer (MaximumConcurrency {audit_concurrency})"))
    print(
        f"audit consumer: a batch of {AUDIT_BATCH} in {batch_ms:.1f} ms (median of {len(timed)}, moto plus stated "
        f"in-region latencies) = "
        f"{per_instance:,.0f} events/s per instance x {audit_concurrency} = {drains:,.0f}/s; produced at "
        f"{PEAK_RPS:,} rps: {produced:,.0f}/s (drains {drains / produced:.1f}x); at {TARGET_RPS:,} rps: "
        f"{produced * TARGET_RPS / PEAK_RPS:,.0f}/s"
    )

    mean_ms = sum(MIX[name] * kind.milliseconds for name, kind in kinds.items()) / sum(MIX.values())
    concurrency_at_peak = PEAK_RPS * mean_ms / 1000
    audit_instances = min(audit_concurrency, math.ceil(produced / per_instance))
    ceilings.append((API_GATEWAY_RPS, "API Gateway's account quota (10,000 rps per region, raised on request)"))
    lambda_ceiling = (LAMBDA_CONCURRENCY - audit_concurrency) / (mean_ms / 1000)
    ceilings.append(
        (
            lambda_ceiling,
            f"Lambda concurrency quota ({LAMBDA_CONCURRENCY:,} per region, less the audit function's "
            f"{audit_concurrency}, raised on request)",
        )
    )
    print(
        "durations (median, moto, ms): " + ", ".join(f"{name} {kind.milliseconds:.1f}" for name, kind in kinds.items())
    )
    print(
        f"Lambda: mean API request {mean_ms:.1f} ms -> {concurrency_at_peak:,.0f} concurrent at {PEAK_RPS:,} rps "
        f"(+ {audit_instances} audit); the {LAMBDA_CONCURRENCY:,} quota at {lambda_ceiling:,.0f} rps; from cold, "
        f"{math.ceil(concurrency_at_peak / LAMBDA_SCALING) * 10} s to reach {PEAK_RPS:,} rps ({LAMBDA_SCALING:,} "
        "instances per 10 s per function)"
    )
    print(f"configured per deployment (docs/SCALING.md): stage throttle ApiThrottleRateLimit {stage_throttle} rps")
    own = min((c for c in ceilings if c[1].startswith(("partition", "audit"))), default=(math.inf, "none"))
    print(f"the design's own first ceiling: {own[1]} at {own[0]:,.0f} rps")
    rate, what = min(ceilings)
    print(f"first ceiling: {what} at {rate:.0f} rps")


if __name__ == "__main__":
    main()
