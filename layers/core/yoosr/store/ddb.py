"""A thin DynamoDB layer: attribute-value codec, TTL filtering and error translation.

Items are plain dicts of str/int/float/bool/None/list/dict/set[str]. Numbers come back as int
when integral. TTL is always the top-level `expires_at` attribute in epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from yoosr import clock
from yoosr.errors import BadRequest, ConditionFailed, TransactionCancelled, Unavailable
from yoosr.store import aws

TTL_ATTRIBUTE = "expires_at"
Item = dict[str, Any]


def encode(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, Mapping):
        return {"M": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, set | frozenset):
        return {"SS": sorted(value)}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def decode(av: Mapping[str, Any]) -> Any:
    ((kind, value),) = av.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: decode(v) for k, v in value.items()}
    if kind == "L":
        return [decode(v) for v in value]
    if kind == "SS":
        return set(value)
    raise TypeError(f"unsupported attribute type {kind}")


def to_av(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: encode(v) for k, v in item.items()}


def from_av(av: Mapping[str, Any]) -> Item:
    return {k: decode(v) for k, v in av.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(now=1) → {':now': {'N': '1'}}."""
    return {f":{k}": encode(v) for k, v in named.items()}


def is_live(item: Mapping[str, Any] | None, now: int | None = None) -> bool:
    """False for a missing item or one whose TTL has passed (AWS deletes those lazily)."""
    if item is None:
        return False
    expires = item.get(TTL_ATTRIBUTE)
    return expires is None or expires > (clock.epoch() if now is None else now)


def live_only(items: Iterable[Item]) -> list[Item]:
    now = clock.epoch()
    return [item for item in items if is_live(item, now)]


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _with(args: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """Request arguments plus the optional ones that were given (DynamoDB rejects empties)."""
    return {**args, **{name: value for name, value in optional.items() if value}}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def get(table: str, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
    response = aws.client("dynamodb").get_item(
        TableName=table, Key=key(pk, sk), ConsistentRead=consistent
    )
    found = response.get("Item")
    item = from_av(found) if found else None
    return item if is_live(item) else None


def batch_get(requests: Mapping[str, list[tuple[str, str]]]) -> dict[tuple[str, str, str], Item]:
    """Consistent reads of a few known keys across tables in one call.

    Returns {(table, pk, sk): item} for live items only; unprocessed keys are retried.
    """
    pending: dict[str, Any] = {
        table: {"Keys": [key(pk, sk) for pk, sk in keys], "ConsistentRead": True}
        for table, keys in requests.items()
        if keys
    }
    found: dict[tuple[str, str, str], Item] = {}
    for _ in range(5):
        if not pending:
            break
        response = aws.client("dynamodb").batch_get_item(RequestItems=pending)
        for table, avs in response.get("Responses", {}).items():
            for av in avs:
                item = from_av(av)
                if is_live(item):
                    found[(table, item["pk"], item["sk"])] = item
        pending = response.get("UnprocessedKeys") or {}
    if pending:
        raise RuntimeError("batch_get left unprocessed keys after retries")
    return found


def put(
    table: str,
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    vals: dict[str, Any] | None = None,
) -> None:
    args = _with(
        {"TableName": table, "Item": to_av(item)},
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=vals,
    )
    try:
        aws.client("dynamodb").put_item(**args)
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            raise ConditionFailed from error
        raise


def update(
    table: str,
    pk: str,
    sk: str,
    expression: str,
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    vals: dict[str, Any] | None = None,
    return_values: str = "NONE",
) -> Item:
    args = _with(
        {
            "TableName": table,
            "Key": key(pk, sk),
            "UpdateExpression": expression,
            "ReturnValues": return_values,
        },
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=vals,
    )
    try:
        response = aws.client("dynamodb").update_item(**args)
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            raise ConditionFailed from error
        raise
    return from_av(response.get("Attributes", {}))


_TRANSIENT = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
TRANSACT_ATTEMPTS = 4


def transact(actions: list[dict[str, Any]]) -> None:
    """TransactWriteItems; a cancellation raises TransactionCancelled with per-item reasons.

    Each conditional action asks for the old item on failure, so callers can tell a replay
    from a conflict without another read. A cancellation caused only by a concurrent
    transaction or throttling is not a verdict: it is retried with jittered backoff (the SDK's
    retry mode does not retry cancellations), then reported as Unavailable.
    """
    for action in actions:
        for body in action.values():
            if "ConditionExpression" in body:
                body.setdefault("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
    for attempt in range(TRANSACT_ATTEMPTS):
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=actions)
            return
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            codes = [str(r.get("Code", "None")) for r in reasons]
            if not any(code in _TRANSIENT for code in codes):
                items = [from_av(r["Item"]) if r.get("Item") else None for r in reasons]
                raise TransactionCancelled(codes, items) from error
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter only
    raise Unavailable("The service is busy; retry shortly.", headers={"Retry-After": "1"})


def query(
    table: str,
    condition: str,
    vals: dict[str, Any],
    *,
    index: str | None = None,
    names: dict[str, str] | None = None,
    limit: int | None = None,
    forward: bool = True,
    start_key: dict[str, Any] | None = None,
) -> tuple[list[Item], dict[str, Any] | None]:
    """One page of a Query; returns (live items, LastEvaluatedKey in attribute-value form)."""
    args = _with(
        {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": vals,
            "ScanIndexForward": forward,
        },
        IndexName=index,
        ExpressionAttributeNames=names,
        Limit=limit,
        ExclusiveStartKey=start_key,
    )
    response = aws.client("dynamodb").query(**args)
    items = live_only(from_av(av) for av in response.get("Items", []))
    return items, response.get("LastEvaluatedKey")


def encode_cursor(last_key: Mapping[str, Any] | None) -> str | None:
    if not last_key:
        return None
    plain = {k: v["S"] for k, v in last_key.items()}
    raw = json.dumps(plain, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, expected: Mapping[str, str], prefixes: Mapping[str, str]
) -> dict[str, Any]:
    """Turn a client cursor back into an ExclusiveStartKey, refusing anything that could
    point outside the caller's own key range (another visitor's or workspace's items)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from error
    wanted = set(expected) | set(prefixes)
    if (
        not isinstance(plain, dict)
        or set(plain) != wanted
        or not all(isinstance(v, str) for v in plain.values())
        or any(plain[k] != v for k, v in expected.items())
        or any(not plain[k].startswith(p) for k, p in prefixes.items())
    ):
        raise BadRequest("The cursor is not valid.", code="invalid_cursor")
    return {k: {"S": v} for k, v in plain.items()}
