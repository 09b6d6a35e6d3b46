"""Which DynamoDB partition each request reads or writes, and how many capacity units it costs there.

A table's partition is its item's partition key value; a global index's is the value of the index's own key, so
a write reaches one partition of the table and one of each global index holding the item (before or after the
write: a changed index key reaches both). A local index lives in its item's table partition. Units follow
DynamoDB's published rules on item sizes (moto reports none for transactions), read through a client of the
meter's own, which is not metered: a read unit per 4 KB (half for eventually consistent reads), a write unit per
KB of the larger of the old and new item, twice in a transaction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.aws.bootstrap import table_names
from infra.aws.calls import intercepting_aws_calls
from infra.aws.template import load_template
from watchlist_core.settings import get_settings


# DynamoDB item size rules: attribute names count; numbers take about one byte per two digits plus one;
# lists and maps take three bytes plus one per element.
def attribute_size(value: dict[str, Any]) -> int:
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return len(Decimal(content).normalize().as_tuple().digits) // 2 + 1
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + attribute_size(inner) + 1 for name, inner in content.items())
    if kind == "L":
        return 3 + sum(attribute_size(inner) + 1 for inner in content)
    return sum(len(str(element).encode()) for element in content)  # string, number and binary sets


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


# One entity's own key: a ULID, a UUID, a hex digest, an e-mail address (as a whole key or a part of one).
_ENTITY = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32,}|[^#@]+@[^#]+")
_SHARD = re.compile(r"#\d{1,3}$")


def key_shape(key: str) -> tuple[str, str]:
    """A partition key's shape, with its pattern (ids replaced): "entity" (one user's, item's, event's...: spread
    over all of them), "shard" (`<base>#<k>`: spread over its shards) or "constant" (one partition for all)."""
    pattern = _ENTITY.sub("<id>", key)
    if "<id>" in pattern:
        return "entity", pattern
    if _SHARD.search(pattern):
        return "shard", _SHARD.sub("#<k>", pattern)
    return "constant", pattern


@dataclass(frozen=True)
class Touch:
    """Capacity one request used in one partition: `index` None for the table's own (local indexes included)."""

    table: str
    index: str | None
    key: str
    read_units: float = 0.0
    write_units: float = 0.0


@dataclass(frozen=True)
class _Schema:
    key: tuple[str, ...]  # the table's key attributes, partition key first
    global_indexes: dict[str, tuple[str, ...]]  # index name -> its key attributes, partition key first
    local_indexes: dict[str, tuple[str, ...]]


def _schemas() -> dict[str, _Schema]:
    """Table name -> its keys and indexes, from template.yaml."""
    names = table_names(get_settings())

    def keys(schema: list[dict[str, str]]) -> tuple[str, ...]:
        return tuple(key["AttributeName"] for key in sorted(schema, key=lambda key: key["KeyType"]))  # HASH first

    schemas = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        properties = resource["Properties"]
        schemas[names[logical_id]] = _Schema(
            key=keys(properties["KeySchema"]),
            global_indexes={i["IndexName"]: keys(i["KeySchema"]) for i in properties.get("GlobalSecondaryIndexes", [])},
            local_indexes={i["IndexName"]: keys(i["KeySchema"]) for i in properties.get("LocalSecondaryIndexes", [])},
        )
    return schemas


def _value(attribute: dict[str, Any]) -> str:
    return str(next(iter(attribute.values())))


class PartitionMeter:
    """Records a Touch for every partition each DynamoDB request made meanwhile reaches (`metering`)."""

    def __init__(self) -> None:
        settings = get_settings()
        self._client: Any = boto3.client(
            "dynamodb", region_name=settings.aws_region, endpoint_url=settings.dynamodb_endpoint_url
        )
        self._schemas = _schemas()
        self.touches: list[Touch] = []

    @contextmanager
    def metering(self) -> Iterator[list[Touch]]:
        def metered(client: Any, operation: str, params: dict[str, Any], send: Callable[[], Any]) -> Any:
            if client is self._client or client.meta.service_model.service_name != "dynamodb":
                return send()
            return self._record(operation, params, send)

        with intercepting_aws_calls(metered):
            yield self.touches

    def _record(self, operation: str, params: dict[str, Any], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        writes = _writes(operation, params)
        before = [self._stored(table, key) for table, key, _ in writes]
        try:
            response = call()
        except ClientError:  # a refused condition is charged like a write that changed nothing
            for (table, _, _), old in zip(writes, before, strict=True):
                self._record_write(table, old, old, 2.0 if operation == "TransactWriteItems" else 1.0)
            raise
        for (table, key, put), old in zip(writes, before, strict=True):
            new = put if put is not None else self._stored(table, key)
            self._record_write(table, old, new, 2.0 if operation == "TransactWriteItems" else 1.0)
        if operation in ("GetItem", "Query"):
            items = [response["Item"]] if "Item" in response else response.get("Items", [])
            partition = params["Key"] if operation == "GetItem" else None
            self._record_read(params, items, partition)
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                returned = {
                    tuple(_value(item[k]) for k in self._schemas[table].key): item
                    for item in response.get("Responses", {}).get(table, [])
                }
                for key in request["Keys"]:
                    item = returned.get(tuple(_value(key[k]) for k in self._schemas[table].key))
                    self._record_read({"TableName": table, **request}, [item] if item else [], key)
        return response

    def _stored(self, table: str, item: dict[str, Any]) -> dict[str, Any] | None:
        key = {name: item[name] for name in self._schemas[table].key}
        stored: dict[str, Any] | None = self._client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return stored

    def _record_write(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None, factor: float) -> None:
        image = new or old
        if image is None:
            return  # a delete of nothing: charged, but at no partition this meter can name
        schema = self._schemas[table]
        units = factor * max(1, math.ceil(max(item_size(old or {}), item_size(new or {})) / 1024))
        in_local_indexes = sum(
            1 for keys in schema.local_indexes.values() if any(i and keys[1] in i for i in (old, new)) and old != new
        )
        self.touches.append(
            Touch(table, None, _value(image[schema.key[0]]), write_units=units * (1 + in_local_indexes))
        )
        if old == new:
            return  # nothing changed: no index is written
        for index, keys in schema.global_indexes.items():
            for value in {_value(i[keys[0]]) for i in (old, new) if i and all(k in i for k in keys)}:
                self.touches.append(Touch(table, index, value, write_units=units))

    def _record_read(self, params: dict[str, Any], items: list[dict[str, Any]], key: dict[str, Any] | None) -> None:
        table = params["TableName"]
        schema = self._schemas[table]
        index = params.get("IndexName")
        partition = _value(key[schema.key[0]]) if key else _queried_partition(params, schema, index)
        units = (1.0 if params.get("ConsistentRead") else 0.5) * max(1, math.ceil(sum(map(item_size, items)) / 4096))
        global_index = index if index in schema.global_indexes else None
        self.touches.append(Touch(table, global_index, partition, read_units=units))


def _writes(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, key or item, the item put or None when the stored item after the write tells) of each write."""
    if operation == "PutItem":
        return [(params["TableName"], params["Item"], params["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], params["Key"], None)]
    if operation == "TransactWriteItems":
        writes = []
        for action in params["TransactItems"]:
            kind, request = next(iter(action.items()))
            if kind == "Put":
                writes.append((request["TableName"], request["Item"], request["Item"]))
            else:  # Update, Delete, ConditionCheck: charged on the stored item
                writes.append((request["TableName"], request["Key"], None))
        return writes
    if operation == "BatchWriteItem":
        return [
            (table, r["PutRequest"]["Item"], r["PutRequest"]["Item"])
            if "PutRequest" in r
            else (table, r["DeleteRequest"]["Key"], None)
            for table, requests in params["RequestItems"].items()
            for r in requests
        ]
    return []


def _queried_partition(params: dict[str, Any], schema: _Schema, index: str | None) -> str:
    """The partition key value a Query's key condition names (`#n = :v`, as PynamoDB and boto3 write it)."""
    keys = schema.global_indexes.get(index or "") or schema.local_indexes.get(index or "") or schema.key
    names: dict[str, str] = params.get("ExpressionAttributeNames", {})
    for placeholder, value in re.findall(r"(#?\w+) = (:\w+)", params["KeyConditionExpression"]):
        if names.get(placeholder, placeholder) == keys[0]:
            return _value(params["ExpressionAttributeValues"][value])
    raise ValueError(f"no partition key in {params['KeyConditionExpression']!r}")
