"""Raw reads and deletes the privacy jobs make in the other tables.

Unlike the request paths, these do not hide items whose TTL has passed: AWS deletes expired
items lazily, and an erasure or a purge must remove them too (and a verification must see
them). Every read is a GetItem or a Query on a key or index; never a Scan.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

from yoosr.errors import ConditionFailed, TransactionCancelled
from yoosr.store import aws, ddb, keys

Item = dict[str, Any]
Key = tuple[str, str]
BATCH = 25
ATTEMPTS = 8


def query(
    table: str,
    condition: str,
    vals: dict[str, Any],
    *,
    index: str | None = None,
    start: dict[str, Any] | None = None,
    limit: int | None = None,
    consistent: bool = False,
) -> tuple[list[Item], dict[str, Any] | None]:
    """One page of a Query, expired items included: (items, LastEvaluatedKey)."""
    args: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": vals,
    }
    if index:
        args["IndexName"] = index
    elif consistent:
        args["ConsistentRead"] = True
    if start:
        args["ExclusiveStartKey"] = start
    if limit:
        args["Limit"] = limit
    response = aws.client("dynamodb").query(**args)
    items = [ddb.from_av(av) for av in response.get("Items", [])]
    return items, response.get("LastEvaluatedKey")


def get(table: str, pk: str, sk: str) -> Item | None:
    """A consistent GetItem, expired or not."""
    response = aws.client("dynamodb").get_item(
        TableName=table, Key=ddb.key(pk, sk), ConsistentRead=True
    )
    found = response.get("Item")
    return ddb.from_av(found) if found else None


def delete_keys(table: str, wanted: Iterable[Key]) -> int:
    """Delete items by key, 25 per BatchWriteItem; unprocessed items are retried with
    backoff. Deleting an item that is already gone is not an error (erasure is idempotent)."""
    unique = list(dict.fromkeys(wanted))
    client = aws.client("dynamodb")
    for start in range(0, len(unique), BATCH):
        pending: dict[str, Any] = {
            table: [
                {"DeleteRequest": {"Key": ddb.key(pk, sk)}}
                for pk, sk in unique[start : start + BATCH]
            ]
        }
        for attempt in range(ATTEMPTS):
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter only
        if pending:
            raise RuntimeError("batch delete left unprocessed items after retries")
    return len(unique)


def item_key(item: Item) -> Key:
    return str(item["pk"]), str(item["sk"])


# ---------------------------------------------------------------- visitors


def visitor_ids_by_index(table: str, index: str, attribute: str, value: str) -> list[str]:
    """Visitor ids whose keyed-hash attribute (email_key, phone_key) has this value."""
    found: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        items, start = query(
            table, f"{attribute} = :v", ddb.values(v=value), index=index, start=start
        )
        found += [visitor_id_of(item) for item in items if item.get("sk") == keys.VISITOR_SK]
        if not start:
            return [found_id for found_id in dict.fromkeys(found) if found_id]


def visitor_ids_by_key(table: str, ws: str, visitor_key: str) -> list[str]:
    """The visitor whose id has this keyed hash (by_workspace; after a restore, for the
    tombstone replay)."""
    items, _ = query(
        table,
        "workspace_id = :ws AND visitor_key = :key",
        ddb.values(ws=ws, key=visitor_key),
        index="by_workspace",
    )
    return [v for v in (visitor_id_of(item) for item in items) if v]


def visitor_id_of(item: Item) -> str:
    """The visitor id in a visitor key `{ws}#VISITOR#{visitor_id}` ("" for anything else)."""
    pk = str(item.get("pk", ""))
    _, marker, visitor_id = pk.partition("#VISITOR#")
    return visitor_id if marker and item.get("sk") == keys.VISITOR_SK else ""


def delete_visitor(table: str, ws: str, visitor_id: str) -> int:
    """Delete a visitor and the identity link its `identity_key` names, in one transaction.
    The link goes only while it still names this visitor: a site user bound to a newer
    visitor keeps that binding."""
    pk, sk = keys.visitor(ws, visitor_id)
    item = get(table, pk, sk)
    if item is None:
        return 0
    actions: list[dict[str, Any]] = [{"Delete": {"TableName": table, "Key": ddb.key(pk, sk)}}]
    identity_key = item.get("identity_key")
    if identity_key:
        id_pk, id_sk = keys.identity(ws, str(identity_key))
        actions.append(
            {
                "Delete": {
                    "TableName": table,
                    "Key": ddb.key(id_pk, id_sk),
                    "ConditionExpression": "attribute_not_exists(pk) OR visitor_id = :visitor",
                    "ExpressionAttributeValues": ddb.values(visitor=visitor_id),
                }
            }
        )
    try:
        ddb.transact(actions)
    except TransactionCancelled as cancelled:
        if len(cancelled.reasons) > 1 and cancelled.reasons[1] == "ConditionalCheckFailed":
            # The link names another visitor now: delete ours alone.
            ddb.transact(actions[:1])
            return 1
        raise
    return len(actions)


def update_visitor(table: str, ws: str, visitor_id: str, fields: dict[str, Any]) -> bool:
    """SET fields on an existing visitor; False when there is none."""
    pk, sk = keys.visitor(ws, visitor_id)
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    vals = {f":v{i}": ddb.encode(value) for i, value in enumerate(fields.values())}
    try:
        ddb.update(
            table, pk, sk, f"SET {sets}", condition="attribute_exists(pk)", names=names, vals=vals
        )
    except ConditionFailed:
        return False
    return True


# ---------------------------------------------------------------- conversations


def hide_conversation(table: str, ws: str, conversation_id: str, now_epoch: int) -> bool:
    """Make a conversation invisible to every read at once: its TTL is set in the past (every
    read path drops expired items) until the job deletes it. False when it is gone."""
    pk, sk = keys.conversation(ws, conversation_id)
    try:
        ddb.update(
            table,
            pk,
            sk,
            "SET expires_at = :past, erased_at = :now",
            condition="attribute_exists(pk)",
            vals=ddb.values(past=now_epoch - 1, now=now_epoch),
        )
    except ConditionFailed:
        return False
    return True
