"""Analytics table: rollups and the markers that make each counted event count once.

    pk = {ws}#ROLLUP               sk = D#{YYYY-MM-DD}#{metric}      a local day's rollup item
                                   sk = H#{YYYY-MM-DD}T{HH}#{metric}  a local hour's
        c#{dimensions}             counter                          (analytics/rollup.py)
        h#{dimensions}#{bucket}    histogram bucket count
    pk = {ws}#SEEN#{hash}          sk = SEEN    an event already counted; expires_at (TTL)

Rollup attributes only ever change by `ADD`, in the transaction that puts the event's marker
(`attribute_not_exists`), so a redelivered or replayed stream record adds nothing. Nothing here
is personal data or text: ids the product assigns and numbers. A range is one Query per
granularity, by sort key: O(days × metrics), never O(messages).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from yoosr import clock
from yoosr.analytics import rollup
from yoosr.analytics.events import Increment
from yoosr.analytics.rollup import Rollup, RollupUpdate
from yoosr.errors import TransactionCancelled
from yoosr.store import aws, ddb

SEEN_SK = "SEEN"
MAX_ACTIONS = 100
"""DynamoDB's limit on the actions of one transaction."""
_BATCH = 25
_FAILED = "ConditionalCheckFailed"


def marker_key(workspace_id: str, event_key: str) -> tuple[str, str]:
    """Hashed: the event key names conversations and messages, the marker needs none of it."""
    digest = hashlib.sha256(event_key.encode()).hexdigest()[:40]
    return f"{workspace_id}#SEEN#{digest}", SEEN_SK


def _marker(table: str, workspace_id: str, event_key: str, now: int, ttl: int) -> dict[str, Any]:
    pk, sk = marker_key(workspace_id, event_key)
    return {
        "Put": {
            "TableName": table,
            "Item": ddb.to_av({"pk": pk, "sk": sk, ddb.TTL_ATTRIBUTE: now + ttl}),
            # An expired marker (TTL deletion is lazy) no longer counts as seen.
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
            "ExpressionAttributeValues": ddb.values(now=now),
            "ReturnValuesOnConditionCheckFailure": "NONE",
        }
    }


def _add(table: str, update: RollupUpdate) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(update.adds)}
    vals = {f":a{i}": ddb.encode(value) for i, value in enumerate(update.adds.values())}
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*update.key),
            "UpdateExpression": "ADD " + ", ".join(f"{n} :{n[1:]}" for n in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": vals,
        }
    }


def _events(increments: Iterable[Increment]) -> dict[tuple[str, str], list[Increment]]:
    """(workspace, event key) → its increments: what one marker stands for."""
    grouped: dict[tuple[str, str], list[Increment]] = {}
    for increment in increments:
        grouped.setdefault((increment.workspace_id, increment.event_key), []).append(increment)
    return grouped


def _chunks(
    events: dict[tuple[str, str], list[Increment]],
) -> Iterator[dict[tuple[str, str], list[Increment]]]:
    """Whole events per transaction, each within the action limit (markers + item updates)."""
    chunk: dict[tuple[str, str], list[Increment]] = {}
    for event, increments in events.items():
        grown = {**chunk, event: increments}
        size = len(grown) + len(rollup.updates(i for group in grown.values() for i in group))
        if chunk and size > MAX_ACTIONS:
            yield chunk
            chunk = {event: increments}
        else:
            chunk = grown
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Counted:
    events: int
    skipped: int
    """Events already counted (a redelivery or a replay)."""


def count(
    table: str, increments: Sequence[Increment], marker_seconds: int, now: int | None = None
) -> Counted:
    """Apply increments once per event: each event's marker and the ADDs of its increments to
    their day and hour rollups land in one transaction. An event whose marker exists is left
    out and the rest written again."""
    now = clock.epoch() if now is None else now
    counted = skipped = 0
    for chunk in _chunks(_events(increments)):
        pending = dict(chunk)
        while pending:
            keys = list(pending)
            updates = rollup.updates(i for event in keys for i in pending[event])
            actions = [_marker(table, ws, event, now, marker_seconds) for ws, event in keys]
            actions += [_add(table, update) for update in updates]
            try:
                ddb.transact(actions)
            except TransactionCancelled as cancelled:
                seen = [
                    event
                    for event, reason in zip(keys, cancelled.reasons, strict=False)
                    if reason == _FAILED
                ]
                if not seen:
                    raise
                for event in seen:
                    del pending[event]
                skipped += len(seen)
                continue
            counted += len(pending)
            break
    return Counted(counted, skipped)


def read(table: str, workspace_id: str, first: str, last: str) -> list[Rollup]:
    """The rollups of one workspace from period `first` to `last` (both days "YYYY-MM-DD" or
    both hours "YYYY-MM-DDTHH"), in order; periods without data are absent."""
    low, high = rollup.sort_key_range(first, last)
    by_period: dict[str, dict[str, dict[str, Any]]] = {}
    start_key = None
    while True:
        items, start_key = ddb.query(
            table,
            "pk = :pk AND sk BETWEEN :low AND :high",
            ddb.values(pk=rollup.partition_key(workspace_id), low=low, high=high),
            start_key=start_key,
        )
        for item in items:
            period, metric = rollup.parse_sort_key(item["sk"])
            by_period.setdefault(period, {})[metric] = item
        if not start_key:
            break
    return [Rollup.from_items(workspace_id, p, by_period[p]) for p in sorted(by_period)]


def _rollup_keys(table: str, workspace_id: str) -> set[tuple[str, str]]:
    args: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": ddb.values(pk=rollup.partition_key(workspace_id)),
        "ProjectionExpression": "pk, sk",
    }
    found: set[tuple[str, str]] = set()
    while True:
        response = aws.client("dynamodb").query(**args)
        found |= {(av["pk"]["S"], av["sk"]["S"]) for av in response.get("Items", [])}
        if not response.get("LastEvaluatedKey"):
            return found
        args["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), _BATCH):
        pending: dict[str, Any] = {table: requests[start : start + _BATCH]}
        for attempt in range(8):
            response = aws.client("dynamodb").batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        if pending:
            raise RuntimeError("batch_write left unprocessed items after retries")


@dataclass(frozen=True)
class Replaced:
    written: int
    deleted: int


def replace(table: str, workspace_id: str, rollups: Iterable[Rollup]) -> Replaced:
    """Make the workspace's rollup items exactly `rollups` (a backfill): every item is put
    whole, then the items no rollup has any more are deleted. Readers meanwhile see each item
    either as it was or as it becomes, never a missing day."""
    pk = rollup.partition_key(workspace_id)
    old = _rollup_keys(table, workspace_id)
    puts: list[dict[str, Any]] = []
    new: set[tuple[str, str]] = set()
    for each in rollups:
        for metric, attributes in each.to_items().items():
            sk = rollup.sort_key(each.period, metric)
            new.add((pk, sk))
            puts.append({"PutRequest": {"Item": ddb.to_av({"pk": pk, "sk": sk, **attributes})}})
    _batch_write(table, puts)
    stale = sorted(old - new)
    _batch_write(table, [{"DeleteRequest": {"Key": ddb.key(*key)}} for key in stale])
    return Replaced(len(puts), len(stale))
