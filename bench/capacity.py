"""DynamoDB request counting and capacity accounting on one botocore client.

moto answers ReturnConsumedCapacity with fixed placeholders (1.0 per write, 0.5 per GetItem,
one per key for BatchGetItem, nothing for transactions), whatever the item size. So capacity is
computed here from the items themselves, by DynamoDB's published rules:

- item size: attribute names + values (strings as UTF-8, numbers 1 byte + 1 per 2 significant
  digits, booleans/null 1 byte, lists and maps 3 bytes + 1 byte per element + their contents);
- writes: 1 WCU per started 1 KB of the larger of the item before and after; 2x inside
  TransactWriteItems; a failed conditional write still consumes capacity;
- every global secondary index the write touches: 1 WCU per started 1 KB of the projected item
  (2 writes when the index key changes); counted apart, at the standard rate;
- reads: 1 RCU per started 4 KB strongly consistent, half for eventually consistent (queries
  and GSIs always), a missing item costs the minimum; GetItem and BatchGetItem round per item,
  Query rounds the total it read.

Before/after images come from a separate, unhooked client reading the same endpoint.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

AV = Mapping[str, Any]
KB = 1024
READ_UNIT = 4 * KB
TRANSACTION_FACTOR = 2


# ---------------------------------------------------------------- item sizes


def _number_size(text: str) -> int:
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "")
    digits = digits.split("E")[0].strip("0") or "0"
    return 1 + math.ceil(len(digits) / 2)


def _binary_size(value: bytes | str) -> int:
    return len(value) if isinstance(value, bytes) else len(base64.b64decode(value))


def value_size(av: AV) -> int:
    ((kind, value),) = av.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return _binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(_binary_size(v) for v in value)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in value.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, AV] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(av) for name, av in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


# ---------------------------------------------------------------- table schemas


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()

    def entry(
        self, item: Mapping[str, AV] | None, table_keys: tuple[str, ...]
    ) -> dict[str, AV] | None:
        """The index entry an item has (None when it lacks an index key: sparse index)."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(table_keys) | set(self.included)
        return {k: v for k, v in item.items() if k in wanted}


@dataclass(frozen=True)
class TableSchema:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()


def schemas_from_template(
    resources: Mapping[str, Mapping[str, Any]], physical_name: Mapping[str, str]
) -> dict[str, TableSchema]:
    """{physical table name: schema} for every AWS::DynamoDB::Table in a template."""
    schemas: dict[str, TableSchema] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource.get("Properties", {})
        indexes = tuple(
            Index(
                name=gsi["IndexName"],
                keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                projection=gsi["Projection"]["ProjectionType"],
                included=tuple(gsi["Projection"].get("NonKeyAttributes", ())),
            )
            for gsi in props.get("GlobalSecondaryIndexes", [])
        )
        keys = tuple(k["AttributeName"] for k in props["KeySchema"])
        schemas[physical_name[logical_id]] = TableSchema(keys, indexes)
    return schemas


# ---------------------------------------------------------------- the meter


@dataclass
class Usage:
    requests: Counter[str] = field(default_factory=Counter)
    other_requests: Counter[str] = field(default_factory=Counter)
    rcu: float = 0.0
    wcu: float = 0.0
    gsi_wcu: float = 0.0
    moto_reported: float = 0.0

    def copy(self) -> Usage:
        return Usage(
            Counter(self.requests),
            Counter(self.other_requests),
            self.rcu,
            self.wcu,
            self.gsi_wcu,
            self.moto_reported,
        )

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.requests + other.requests,
            self.other_requests + other.other_requests,
            self.rcu + other.rcu,
            self.wcu + other.wcu,
            self.gsi_wcu + other.gsi_wcu,
            self.moto_reported + other.moto_reported,
        )

    def minus(self, earlier: Usage) -> Usage:
        return Usage(
            self.requests - earlier.requests,
            self.other_requests - earlier.other_requests,
            self.rcu - earlier.rcu,
            self.wcu - earlier.wcu,
            self.gsi_wcu - earlier.gsi_wcu,
            self.moto_reported - earlier.moto_reported,
        )


_CAPACITY_OPS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "TransactWriteItems",
        "TransactGetItems",
        "BatchWriteItem",
    }
)
_WRITE_ACTIONS = ("Put", "Update", "Delete", "ConditionCheck")


class Meter:
    """Hooks a DynamoDB client: counts its requests and accounts their capacity."""

    def __init__(self, schemas: Mapping[str, TableSchema], probe: Any) -> None:
        self.schemas = schemas
        self.probe = probe  # an unhooked client on the same endpoint
        self.usage = Usage()

    def attach(self, dynamodb: Any, *others: Any) -> None:
        events = dynamodb.meta.events
        events.register("before-parameter-build.dynamodb", self._before_build)
        events.register("before-call.dynamodb", self._count)
        events.register("after-call.dynamodb", self._after_call)
        for client in others:
            client.meta.events.register("before-call", self._count_other)

    def _count(self, model: Any, **_: Any) -> None:
        self.usage.requests[model.name] += 1

    def _count_other(self, model: Any, **_: Any) -> None:
        self.usage.other_requests[f"{model.service_model.service_id}:{model.name}"] += 1

    # Writes: remember each target's image before the call, compare after.
    def _targets(
        self, operation: str, params: Mapping[str, Any]
    ) -> list[tuple[str, dict[str, AV], bool]]:
        """(table, key, transactional) of every item a write may change."""

        def key_of(table: str, body: Mapping[str, Any]) -> dict[str, AV]:
            source = body.get("Key") or body["Item"]
            return {k: source[k] for k in self.schemas[table].keys}

        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(params["TableName"], key_of(params["TableName"], params), False)]
        if operation == "TransactWriteItems":
            out = []
            for action in params["TransactItems"]:
                ((_action, body),) = action.items()
                out.append((body["TableName"], key_of(body["TableName"], body), True))
            return out
        if operation == "BatchWriteItem":
            return [
                (table, key_of(table, request.get("PutRequest") or request["DeleteRequest"]), False)
                for table, requests in params["RequestItems"].items()
                for request in requests
            ]
        return []

    def _image(self, table: str, key: Mapping[str, AV]) -> dict[str, AV] | None:
        found = self.probe.get_item(TableName=table, Key=dict(key), ConsistentRead=True)
        item: dict[str, AV] | None = found.get("Item")
        return item

    def _before_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if model.name in _CAPACITY_OPS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        targets = self._targets(model.name, params)
        context["bench_writes"] = [
            (table, key, txn, self._image(table, key)) for table, key, txn in targets
        ]
        context["bench_params"] = params

    def _after_call(
        self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.usage.moto_reported += float(entry.get("CapacityUnits", 0))
        params = context.get("bench_params", {})
        for table, key, transactional, before in context.get("bench_writes", []):
            after = self._image(table, key)
            factor = TRANSACTION_FACTOR if transactional else 1
            self.usage.wcu += factor * write_units(max(item_size(before), item_size(after)))
            self.usage.gsi_wcu += self._index_writes(table, before, after)
        self.usage.rcu += self._reads(model.name, params, parsed)

    def _index_writes(
        self, table: str, before: Mapping[str, AV] | None, after: Mapping[str, AV] | None
    ) -> int:
        schema = self.schemas[table]
        units = 0
        for index in schema.indexes:
            old, new = index.entry(before, schema.keys), index.entry(after, schema.keys)
            if old == new:
                continue
            if old is not None and new is not None and any(old[k] != new[k] for k in index.keys):
                units += write_units(item_size(old)) + write_units(item_size(new))
            else:
                units += write_units(item_size(new if new is not None else old))
        return units

    def _reads(self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> float:
        if operation == "GetItem":
            return read_units(item_size(parsed.get("Item")), bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            total = 0.0
            for table, request in params["RequestItems"].items():
                consistent = bool(request.get("ConsistentRead"))
                items = parsed.get("Responses", {}).get(table, [])
                total += sum(read_units(item_size(i), consistent) for i in items)
                missing = len(request["Keys"]) - len(items)
                total += missing * read_units(0, consistent)
            return total
        if operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            return read_units(sum(item_size(i) for i in parsed.get("Items", [])), consistent)
        return 0.0


def summarise(usage: Usage, count: int) -> dict[str, Any]:
    """Per-operation averages of a Usage over `count` operations (messages, polls …)."""
    per = max(count, 1)
    return {
        "count": count,
        "requests": {op: round(n / per, 2) for op, n in sorted(usage.requests.items())},
        "requests_total": round(sum(usage.requests.values()) / per, 2),
        "other_requests": {op: round(n / per, 3) for op, n in sorted(usage.other_requests.items())},
        "rcu": round(usage.rcu / per, 2),
        "wcu": round(usage.wcu / per, 2),
        "gsi_wcu": round(usage.gsi_wcu / per, 2),
        "moto_reported_capacity": round(usage.moto_reported / per, 2),
    }
