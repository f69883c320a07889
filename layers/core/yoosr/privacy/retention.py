"""The retention sweep: conversations whose retention TTL has passed but which DynamoDB has not
removed yet (TTL deletion is lazy, typically within days), deleted with every item of their
partition. Run by the daily privacy check (PrivacyScheduleFunction) after its checks, and on
demand with `{"command": "retention_sweep"}`.

How it finds them, never by a scan: a conversation item with a retention TTL carries
`retention_pk` = RETENTION#{shard} (yoosr.store.conversations.retention_pk), so the sparse
KEYS_ONLY index `by_retention` (retention_pk, expires_at) lists exactly the conversations
whose `expires_at <= now`, in expiry order. Messages, notes, CSAT and markers are not in it:
they go with their conversation.

How it deletes one conversation (`sweep_conversation`):

1. a consistent GetItem of the conversation item: gone (the index lags its table) or live
   again (its TTL was extended by a visitor message since) → kept, nothing written;
2. its partition, page by page (consistent queries of at most 99 items), every item but the
   conversation item deleted in one transaction per page with a ConditionCheck that the
   conversation is still expired (`expires_at <= now`): one that is extended meanwhile keeps
   everything not yet deleted (only a visitor message moves a conversation's TTL, and it is
   refused once the TTL has passed);
3. last, the conversation item itself (conditioned on still being expired) with the queue
   entry it names, if any: a crash before that leaves it in the index, and the next run
   finishes it. Deleting what is already gone changes nothing, so a rerun is idempotent.

Bounded and resumable: shards are read round-robin a page at a time, at most
`max_conversations` index entries per run and never past `out_of_time()`. There is no cursor
to keep: what is swept leaves the index, so the index itself is the checkpoint, and the next
run (tomorrow, or an on-demand invocation) continues with what is left.

A workspace whose retention is unset writes no TTL (the documented default: conversations are
kept until deleted), so nothing of it is in the index. Logs and metrics carry counts only
(`ConversationsSwept`, `ItemsSwept`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yoosr.errors import TransactionCancelled
from yoosr.observability import count, logger
from yoosr.store import ddb, keys
from yoosr.store import privacy_stores as raw
from yoosr.store.conversations import RETENTION_INDEX, RETENTION_SHARDS

PAGE = 25
"""Index entries read per shard per round."""
TRANSACT_ITEMS = 100
"""DynamoDB's limit of actions per TransactWriteItems: the guard and 99 deletes."""
EXPIRED = "expires_at <= :now"
CHECK_FAILED = "ConditionalCheckFailed"


@dataclass
class SweepReport:
    conversations_swept: int = 0
    items_swept: int = 0
    kept: int = 0
    """Listed by the index but gone already or live again (index lag, an extended TTL)."""
    visited: int = 0
    stopped_early: bool = False
    """The budget or the deadline ended the run; the next run continues."""


def retention_shard_pk(shard: int) -> str:
    return f"RETENTION#{shard}"


def expired_page(
    table: str, shard: int, now_epoch: int, start: dict[str, Any] | None, limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of conversation keys in a shard whose TTL has passed, oldest expiry first."""
    return raw.query(
        table,
        "retention_pk = :p AND expires_at <= :now",
        ddb.values(p=retention_shard_pk(shard), now=now_epoch),
        index=RETENTION_INDEX,
        start=start,
        limit=limit,
    )


def _expired(item: dict[str, Any] | None, now_epoch: int) -> bool:
    expires = (item or {}).get(ddb.TTL_ATTRIBUTE)
    return isinstance(expires, int | float) and expires <= now_epoch


def _guarded(table: str, pk: str, now_epoch: int) -> dict[str, Any]:
    return {
        "TableName": table,
        "Key": ddb.key(pk, keys.CONVERSATION_SK),
        "ConditionExpression": EXPIRED,
        "ExpressionAttributeValues": ddb.values(now=now_epoch),
    }


def sweep_conversation(table: str, pk: str, now_epoch: int) -> int | None:
    """Delete an expired conversation's partition (and its queue entry); returns the items
    deleted, or None when it is gone or live (kept)."""
    conversation = raw.get(table, pk, keys.CONVERSATION_SK)
    if conversation is None or not _expired(conversation, now_epoch):
        return None
    guard = {"ConditionCheck": _guarded(table, pk, now_epoch)}
    deleted = 0
    start: dict[str, Any] | None = None
    while True:
        items, start = raw.query(
            table,
            "pk = :pk",
            ddb.values(pk=pk),
            start=start,
            limit=TRANSACT_ITEMS - 1,
            consistent=True,
        )
        children = [raw.item_key(i) for i in items if i.get("sk") != keys.CONVERSATION_SK]
        if children:
            deletes = [
                {"Delete": {"TableName": table, "Key": ddb.key(item_pk, item_sk)}}
                for item_pk, item_sk in children
            ]
            try:
                ddb.transact([guard, *deletes])
            except TransactionCancelled as cancelled:
                if cancelled.reasons and cancelled.reasons[0] == CHECK_FAILED:
                    return None  # extended or deleted meanwhile: what is left stays
                raise
            deleted += len(children)
        if not start:
            break
    last: list[dict[str, Any]] = [{"Delete": _guarded(table, pk, now_epoch)}]
    queue_pk, queue_sk = conversation.get("queue_pk"), conversation.get("queue_sk")
    if isinstance(queue_pk, str) and isinstance(queue_sk, str):
        last.append({"Delete": {"TableName": table, "Key": ddb.key(queue_pk, queue_sk)}})
    try:
        ddb.transact(last)
    except TransactionCancelled as cancelled:
        if cancelled.reasons and cancelled.reasons[0] == CHECK_FAILED:
            return deleted or None
        raise
    return deleted + len(last)


def sweep(
    table: str,
    now_epoch: int,
    out_of_time: Callable[[], bool],
    max_conversations: int,
) -> SweepReport:
    """Sweep expired conversations, shard by shard in rounds of a page each, within the
    budget and the deadline."""
    report = SweepReport()
    starts: dict[int, dict[str, Any] | None] = dict.fromkeys(range(RETENTION_SHARDS))
    active = list(range(RETENTION_SHARDS))
    while active and not report.stopped_early:
        for shard in list(active):
            room = max_conversations - report.visited
            if room <= 0 or out_of_time():
                report.stopped_early = True
                break
            entries, starts[shard] = expired_page(
                table, shard, now_epoch, starts[shard], min(PAGE, room)
            )
            for entry in entries:
                if out_of_time():
                    report.stopped_early = True
                    break
                report.visited += 1
                deleted = sweep_conversation(table, str(entry["pk"]), now_epoch)
                if deleted is None:
                    report.kept += 1
                else:
                    report.conversations_swept += 1
                    report.items_swept += deleted
            if report.stopped_early:
                break
            if starts[shard] is None:
                active.remove(shard)
    count("ConversationsSwept", report.conversations_swept)
    count("ItemsSwept", report.items_swept)
    logger.info("retention sweep", extra={"report": report.__dict__})
    return report
