"""US dollars per million API requests for a stated mix, from what each kind of request was measured to use.

Measured here, in one run against the moto server and a redis-server: for a cached list of 20, an uncached list
of 20 and an item POST, the handler's own time (not waiting for DynamoDB or SQS), the DynamoDB requests and
their capacity units, SQS requests, Redis commands and bytes (as Redis itself counts them) and log bytes; for a
write, its audit event through the audit function (a batch of ten real messages from the queue).

Capacity units are computed from item sizes by DynamoDB's published rules, because moto's ConsumedCapacity is
missing for transactions and halves strongly consistent reads. Lambda's billed duration is the own time plus
the stated in-region latencies below for each DynamoDB and SQS request made: those, not moto's, are what a
deployed function waits for.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import redis

from bench._common import DYNAMODB_LATENCY_MS, captured_output, local_stack, uncached
from bench.cold_start import HANDLER, SUBJECTS, artifact_import
from infra.aws.bootstrap import table_names
from infra.aws.calls import intercepting_aws_calls, tally_aws_calls
from infra.aws.partitions import item_size
from infra.aws.template import load_template
from infra.local.events import LambdaContext, api_gateway_event, sqs_event
from tests.support import Api
from watchlist_core.observability import logger
from watchlist_core.settings import get_settings

# us-east-1 list prices in USD: first tier, no free tier, no savings plans. Taken from the AWS pricing pages
# (lambda, api-gateway, dynamodb, sqs, elasticache, cloudwatch) as published on the date below; re-check them there.
PRICES_AS_OF = "2026-11-25"
LAMBDA_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_REQUEST = 0.20e-6
API_REQUEST = {"REST API": 3.50e-6, "HTTP API": 1.00e-6}
DYNAMODB_WRITE_UNIT = 0.625e-6  # on demand (the template's PAY_PER_REQUEST)
DYNAMODB_READ_UNIT = 0.125e-6
SQS_REQUEST = 0.40e-6  # standard queue, per request of up to 64 KB
# SnapStart (the template's SnapStart parameter): each live version's snapshot is cached (per GB of memory, each
# second, at least 3 hours), and each cold start restores it (per GB). An initialising cold start bills its INIT.
SNAPSTART_CACHE_GB_SECOND = 0.0000015046
SNAPSTART_RESTORE_GB = 0.0001397998
ECPU = 0.0034e-6  # ElastiCache Serverless for Redis OSS: a simple command is one ECPU per KB it transfers
LOG_INGESTED_GB = 0.50  # CloudWatch Logs, standard class

# Stated, not measured, like DYNAMODB_LATENCY_MS.
SQS_LATENCY_MS = 8.0
LAMBDA_PLATFORM_LOG_BYTES = 330  # the START, END and REPORT lines Lambda writes for every invocation
AUDIT_SQS_REQUESTS_PER_BATCH = 2  # the event source's ReceiveMessage and DeleteMessageBatch (idle polling apart)

MIX = {"cached list": 0.80, "uncached list": 0.15, "item POST": 0.05}
ROUNDS = 60
AUDIT_BATCH = 10  # the template's BatchSize
AUDIT_ROUNDS = 10


@dataclass
class Usage:
    """What one request (or one share of an audit batch) used."""

    own_ms: float = 0.0
    dynamodb: list[tuple[str, float, float]] = field(default_factory=list)  # (operation, read units, write units)
    sqs_requests: float = 0.0
    redis_commands: float = 0.0
    redis_bytes: float = 0.0
    log_bytes: float = 0.0

    @property
    def read_units(self) -> float:
        return sum(read for _, read, _ in self.dynamodb)

    @property
    def write_units(self) -> float:
        return sum(write for _, _, write in self.dynamodb)

    def billed_ms(self) -> float:
        waits = sum(DYNAMODB_LATENCY_MS[operation] for operation, _, _ in self.dynamodb)
        return math.ceil(self.own_ms + waits + self.sqs_requests * SQS_LATENCY_MS)


class DynamoDBMeter:
    """Records each DynamoDB request's capacity units while it runs; reads an item's stored size before an
    update or delete (what DynamoDB charges) through a client of its own, which is not metered."""

    def __init__(self) -> None:
        settings = get_settings()
        self.client: Any = boto3.client(
            "dynamodb", region_name=settings.aws_region, endpoint_url=settings.dynamodb_endpoint_url
        )
        self._indexes = _indexes_by_table()
        self.requests: list[tuple[str, float, float]] = []

    def __call__(self, operation: str, params: dict[str, Any], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        write_units = 0.0
        if operation == "TransactWriteItems":
            write_units = sum(2 * self._write_units(*_action(action)) for action in params["TransactItems"])
        elif operation == "PutItem":
            write_units = self._write_units(params["TableName"], params["Item"], None)
        elif operation == "BatchWriteItem":
            write_units = sum(
                self._write_units(table, request.get("PutRequest", {}).get("Item"), request.get("DeleteRequest"))
                for table, requests in params["RequestItems"].items()
                for request in requests
            )
        response = call()
        if operation == "UpdateItem":  # charged on the item as it is after the update (the audit lookups grow)
            write_units = self._write_units(params["TableName"], None, {"Key": params["Key"]})
        read_units = 0.0
        strong = 1.0 if params.get("ConsistentRead") else 0.5
        if operation == "GetItem":  # a projection does not lower the charge: any item up to 4 KB is one unit
            read_units = strong * max(1, math.ceil(item_size(response.get("Item", {})) / 4096))
        elif operation == "Query":
            read_units = strong * max(1, math.ceil(sum(map(item_size, response.get("Items", []))) / 4096))
        self.requests.append((operation, read_units, write_units))
        return response

    def _write_units(self, table: str, item: dict[str, Any] | None, existing: dict[str, Any] | None) -> float:
        """One unit per KB of the item, and as much again for each index the item appears in."""
        if item is None and existing is not None:
            stored = self.client.get_item(TableName=table, Key=existing["Key"]).get("Item")
            item = stored or existing["Key"]
        assert item is not None
        units = math.ceil(item_size(item) / 1024)
        for keys in self._indexes.get(table, []):
            if all(key in item for key in keys):
                units += math.ceil(item_size(item) / 1024)  # the template's indexes project ALL attributes
        return units


def _action(action: dict[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    kind, request = next(iter(action.items()))
    if kind == "Put":
        return request["TableName"], request["Item"], None
    return request["TableName"], None, request  # Update, Delete, ConditionCheck: charged on the stored item


def _indexes_by_table() -> dict[str, list[list[str]]]:
    """Table name -> the key attributes of each of its indexes, from template.yaml."""
    names = table_names(get_settings())
    indexes: dict[str, list[list[str]]] = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        properties = resource["Properties"]
        for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            for index in properties.get(kind, []):
                keys = [key["AttributeName"] for key in index["KeySchema"]]
                indexes.setdefault(names[logical_id], []).append(keys)
    return indexes


class Metered:
    """Runs calls with every AWS request metered and timed, and Redis's own counters read around them."""

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url)
        self.dynamodb = DynamoDBMeter()
        self.waited = 0.0
        self.sqs_requests = 0

    def _redis_counters(self) -> tuple[int, int]:
        info = self._redis.execute_command("INFO", "stats", "commandstats")
        commands = sum(v["calls"] for k, v in info.items() if k.startswith("cmdstat_") and k != "cmdstat_info")
        return commands, info["total_net_input_bytes"] + info["total_net_output_bytes"]

    def run(self, call: Callable[[], object]) -> Usage:
        def metered(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
            if client is self.dynamodb.client:
                return send()
            started = time.perf_counter()
            try:
                if client.meta.service_model.service_name == "dynamodb":
                    return self.dynamodb(operation, params, send)
                self.sqs_requests += 1
                return send()
            finally:
                self.waited += time.perf_counter() - started

        quiet_commands, quiet_bytes = self._quiet_redis_cost()
        self.dynamodb.requests, self.waited, self.sqs_requests = [], 0.0, 0
        commands_before, bytes_before = self._redis_counters()
        with intercepting_aws_calls(metered), captured_output() as logged:
            call()
        commands_after, bytes_after = self._redis_counters()
        return Usage(
            dynamodb=list(self.dynamodb.requests),
            sqs_requests=self.sqs_requests,
            redis_commands=commands_after - commands_before - quiet_commands,
            redis_bytes=bytes_after - bytes_before - quiet_bytes,
            log_bytes=len(logged.getvalue().encode()),
        )

    def _quiet_redis_cost(self) -> tuple[int, int]:
        """What reading the counters adds between two readings with nothing in between."""
        commands_before, bytes_before = self._redis_counters()
        commands_after, bytes_after = self._redis_counters()
        return commands_after - commands_before, bytes_after - bytes_before


def own_ms(prepare: Callable[[], object], call: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Median handler time not spent in AWS requests, over `rounds` calls, each after `prepare` (not timed)."""
    samples = []
    with tally_aws_calls("dynamodb") as dynamodb, tally_aws_calls("sqs") as sqs:
        for _ in range(rounds):
            prepare()
            dynamodb.reset()
            sqs.reset()
            started = time.perf_counter()
            with captured_output():
                call()
            samples.append((time.perf_counter() - started - dynamodb.seconds - sqs.seconds) * 1000)
    return statistics.median(samples)


def own_cpu_ms(prepare: Callable[[], object], call: Callable[[], object], rounds: int) -> float:
    """Median processor time of `call` in this process, for a handler whose AWS requests overlap (the audit
    batch's ten writes): there the waits' sum exceeds the wall time, and wall minus waits is no measure."""
    samples = []
    for _ in range(rounds):
        prepare()
        started = time.process_time()
        with captured_output():
            call()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def dollars(usage: Usage, memory_mb: int, architecture: str, api: str | None) -> dict[str, float]:
    """Cost of one invocation by service; `api` None for the audit function (no gateway in front)."""
    return {
        "API Gateway": API_REQUEST[api] if api else 0.0,
        "Lambda": LAMBDA_REQUEST + usage.billed_ms() / 1000 * memory_mb / 1024 * LAMBDA_GB_SECOND[architecture],
        "DynamoDB": usage.read_units * DYNAMODB_READ_UNIT + usage.write_units * DYNAMODB_WRITE_UNIT,
        "SQS": usage.sqs_requests * SQS_REQUEST,
        # A little over: the first KB of each command is counted twice.
        "Redis": (usage.redis_commands + usage.redis_bytes / 1024) * ECPU,
        "Logs": (usage.log_bytes + LAMBDA_PLATFORM_LOG_BYTES) / 1e9 * LOG_INGESTED_GB,
    }


def main() -> None:
    template = load_template()
    api_memory = int(template["Globals"]["Function"]["MemorySize"])
    audit_memory = int(template["Resources"]["AuditFunction"]["Properties"]["MemorySize"])
    logger.setLevel(template["Parameters"]["LogLevel"]["Default"])  # log bytes as deployed
    with local_stack() as redis_server:
        from watchlist_api.handler import handler
        from watchlist_audit.handler import handler as audit_handler

        api = Api(handler)
        user, token = api.new_user()
        for number in range(20):
            api.post("/v1/watchlists/items", token=token, json={"title": f"Film {number}", "type": "movie"})
        _, writer = api.new_user()
        list_event = api_gateway_event("GET", "/v1/watchlists", headers=[("Authorization", f"Bearer {token}")])
        post_headers = [("Authorization", f"Bearer {writer}"), ("Content-Type", "application/json")]

        context: Any = LambdaContext()

        def post() -> object:
            body = b'{"title": "Benchmark", "type": "show", "year": 2024}'
            return handler(api_gateway_event("POST", "/v1/watchlists/items", headers=post_headers, body=body), context)

        cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "cached list": (lambda: None, lambda: handler(list_event, context)),
            "uncached list": (lambda: uncached(user["id"]), lambda: handler(list_event, context)),
            "item POST": (lambda: None, post),
        }
        metered = Metered(redis_server.url)
        usage: dict[str, Usage] = {}
        for name, (prepare, call) in cases.items():
            call()
            prepare()
            usage[name] = metered.run(call)
        for name, (prepare, call) in cases.items():
            usage[name].own_ms = own_ms(prepare, call)

        # The audit side of a write: batches of ten POSTs' own messages, received as the event source would.
        sqs: Any = boto3.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT_URL"])
        queue_url = os.environ["AUDIT_QUEUE_URL"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.purge_queue(QueueUrl=queue_url)

        def next_batch() -> dict[str, Any]:
            for _ in range(AUDIT_BATCH):
                post()
            messages: list[dict[str, Any]] = []
            while len(messages) < AUDIT_BATCH:
                answer = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=AUDIT_BATCH, AttributeNames=["All"]
                )
                messages += answer.get("Messages", [])
            return sqs_event(messages, arn)

        def store(batch: dict[str, Any]) -> object:
            return audit_handler(batch, LambdaContext("audit"))

        first = next_batch()
        audit = metered.run(lambda: store(first))
        batches: list[dict[str, Any]] = []
        audit.own_ms = own_cpu_ms(lambda: batches.append(next_batch()), lambda: store(batches.pop()), AUDIT_ROUNDS)
        audit.sqs_requests = AUDIT_SQS_REQUESTS_PER_BATCH
    per_event = 1 / AUDIT_BATCH

    print(f"prices: us-east-1 list prices as of {PRICES_AS_OF}; stated latencies (ms): DynamoDB {DYNAMODB_LATENCY_MS}")
    print(f"SQS {SQS_LATENCY_MS}; memory: API {api_memory} MB, audit {audit_memory} MB\n")
    print(
        f"{'request':14} {'own ms':>7} {'billed ms':>9} {'DynamoDB requests':30} {'RRU':>5} {'WRU':>5} "
        f"{'SQS':>4} {'Redis cmds':>10} {'Redis KB':>8} {'log B':>6}"
    )
    rows = {**usage, "audit, per batch": audit}
    for name, figures in rows.items():
        operations = ", ".join(operation for operation, _, _ in figures.dynamodb) or "-"
        print(
            f"{name:14} {figures.own_ms:7.2f} {figures.billed_ms():9d} {operations[:30]:30} {figures.read_units:5.1f} "
            f"{figures.write_units:5.1f} {figures.sqs_requests:4g} {figures.redis_commands:10g} "
            f"{figures.redis_bytes / 1024:8.1f} {figures.log_bytes:6g}"
        )

    print(
        f"\nUSD per million requests, mix {', '.join(f'{share:.0%} {name}' for name, share in MIX.items())}"
        f" (a write's audit event included)"
    )
    components = ["API Gateway", "Lambda", "DynamoDB", "SQS", "Redis", "Logs"]
    print(f"{'':22}" + "".join(f"{c:>12}" for c in components) + f"{'total':>10}")
    for api_kind in API_REQUEST:
        for architecture in LAMBDA_GB_SECOND:
            mixed = dict.fromkeys(components, 0.0)
            for name, share in MIX.items():
                for component, cost in dollars(usage[name], api_memory, architecture, api_kind).items():
                    mixed[component] += share * cost
            for component, cost in dollars(audit, audit_memory, architecture, None).items():
                mixed[component] += MIX["item POST"] * per_event * cost
            print(
                f"{api_kind + ', ' + architecture:22}"
                + "".join(f"{mixed[c] * 1e6:12.3f}" for c in components)
                + f"{sum(mixed.values()) * 1e6:10.2f}"
            )
    print(
        "(the audit batch's own time is processor time, and its billed time sums its writes' latencies as if they"
        " ran one after another: an upper bound, since its ten writes overlap)"
    )
    snapstart_costs(api_memory)
    print(
        "\nNot per request: ElastiCache Serverless meters at least 1 GB (Redis OSS, about $91 a month), and a VPC "
        "needs endpoints or NAT for SQS and Secrets Manager."
    )


def snapstart_costs(memory_mb: int, cold_starts: int = 100_000) -> None:
    """The API function's cold starts with and without SnapStart, a month of `cold_starts`: a restore's price
    against the billed INIT of an initialising cold start (the deployed artifact's import, measured here)."""
    gigabytes = memory_mb / 1024
    init_seconds = statistics.median(artifact_import(SUBJECTS[HANDLER], {}) for _ in range(5))
    cache = gigabytes * 30 * 86_400 * SNAPSTART_CACHE_GB_SECOND
    print(f"\nAPI cold starts, USD a month for {cold_starts:,} of them ({memory_mb} MB):")
    for architecture, gb_second in LAMBDA_GB_SECOND.items():
        initialising = cold_starts * init_seconds * gigabytes * gb_second
        print(f"  {architecture:7} initialising (INIT billed, {init_seconds * 1000:.0f} ms here): {initialising:8.2f}")
    restoring = cold_starts * gigabytes * SNAPSTART_RESTORE_GB
    print(f"  SnapStart: restores {restoring:8.2f} + the live version's cached snapshot {cache:.2f} a month")


if __name__ == "__main__":
    main()
