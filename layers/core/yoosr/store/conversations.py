"""Conversations table: a conversation and its messages share one partition.

    pk = {ws}#CONV#{conversation_id}   sk = CONV | MSG#{message_id} | CMID#{client id} | CSAT
                                            | NOTE#{note_id} (private, dashboard only)
                                            | NOTICE#{arrival id} (a waiting notice was sent)
                                            | TRANSITION#{at}#{ulid} (a routing transition)
    pk = {ws}#VISITOR#{visitor_id}     sk = CCID#{client conversation id}
    pk = {ws}#QUEUE#{department_id|-}  sk = {arrival ULID}   a waiting conversation (routing)

Every write that adds a message also updates the conversation item in the same transaction,
so last activity, preview and counts never drift from the messages, however often a client
retries. Every write that changes the routing state also puts a small `transition` item (the
state before and after, the ids of the messages written with it; no text): the conversation's
history, from which analytics can be rebuilt exactly (scripts/backfill_analytics.py).
Inserts of `message`, `conversation` and `csat` items are the domain events the stream
consumers react to.

Routing attributes of the conversation item are derived from its ConversationState in one
place (`state_attributes`), so every writer keeps the indexes consistent:

    inbox_status_pk      {ws}#STATUS#{status}                       GSI by_status
    inbox_department_pk  {ws}#DEPT#{department}#{status} (if any)   GSI by_department
    inbox_assignee_pk    {ws}#ASSIGNEE#{agent|unassigned}#{status}  GSI by_assignee
        (a resolved conversation is filed under its last assignee)
        all three sorted by last_activity_at (newest first when read backwards)
    queue_pk, queue_sk   the queue entry's key while waiting
    work_pk, work_sk     ROUTING#{shard} / H#{ws}#{agent}#{conv} while held    GSI by_routing_work
    sla_pk, sla_sk       SLA#{shard} / {due}#{ws}#{conv} while the first human reply is
                         awaited                                                GSI by_sla_due
    retention_pk         RETENTION#{shard} while the conversation has a retention TTL
                         (expires_at), sorted by expires_at: the retention sweep  GSI by_retention
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from yoosr import clock, ids
from yoosr.domain.text import preview
from yoosr.errors import TransactionCancelled
from yoosr.models.routing import ConversationState
from yoosr.store import ddb, keys

VISITOR_INDEX = "by_visitor"
STATUS_INDEX = "by_status"
DEPARTMENT_INDEX = "by_department"
ASSIGNEE_INDEX = "by_assignee"
ROUTING_WORK_INDEX = "by_routing_work"
SLA_INDEX = "by_sla_due"
RETENTION_INDEX = "by_retention"
RETENTION_SHARDS = 8
UNASSIGNED = "unassigned"
# Sparse "work" indexes are keyed by a small sharded constant: the sweep reads every shard,
# and no single index partition takes all writes.
ROUTING_SHARDS = 4
QUEUE_WORK_PREFIX = "Q#"
HELD_WORK_PREFIX = "H#"
_LIVE = "(attribute_not_exists(expires_at) OR expires_at > :now_epoch)"
LIVE_CONDITION = _LIVE
"""Needs `:now_epoch`: the item's TTL has not passed (AWS deletes expired items lazily)."""


# ---------------------------------------------------------------- routing keys


def shard(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % ROUTING_SHARDS


def work_pk(shard_no: int) -> str:
    return f"ROUTING#{shard_no}"


def sla_pk(shard_no: int) -> str:
    return f"SLA#{shard_no}"


def queue_pk(ws: str, queue_key: str) -> str:
    return f"{ws}#QUEUE#{queue_key}"


def queue_work_keys(ws: str, queue_key: str, arrival_id: str) -> tuple[str, str]:
    """A queue entry in the routing work index: every entry of one queue in one shard, so the
    sweep can step from queue to queue."""
    return (
        work_pk(shard(f"{ws}#{queue_key}")),
        f"{QUEUE_WORK_PREFIX}{ws}#{queue_key}#{arrival_id}",
    )


def held_work_keys(ws: str, agent_id: str, conversation_id: str) -> tuple[str, str]:
    return (
        work_pk(shard(f"{ws}#{agent_id}")),
        f"{HELD_WORK_PREFIX}{ws}#{agent_id}#{conversation_id}",
    )


def sla_keys(ws: str, conversation_id: str, due_at: str) -> tuple[str, str]:
    return sla_pk(shard(conversation_id)), f"{due_at}#{ws}#{conversation_id}"


def retention_pk(ws: str, conversation_id: str) -> str:
    """The by_retention partition of a conversation item that has a retention TTL (sparse:
    conversation items only; sorted by expires_at, so the sweep reads only expired ones)."""
    conversation = keys.conversation_pk(ws, conversation_id)
    digest = hashlib.sha256(conversation.encode()).digest()[:4]
    return f"RETENTION#{int.from_bytes(digest, 'big') % RETENTION_SHARDS}"


def inbox_status_pk(ws: str, status: str) -> str:
    return f"{ws}#STATUS#{status}"


def inbox_department_pk(ws: str, department_id: str, status: str) -> str:
    return f"{ws}#DEPT#{department_id}#{status}"


def inbox_assignee_pk(ws: str, agent_id: str | None, status: str) -> str:
    return f"{ws}#ASSIGNEE#{agent_id or UNASSIGNED}#{status}"


_INBOX_INPUTS = {"status", "department_id", "assignee_id", "last_assignee_id"}
_QUEUE_INPUTS = {"queued", "arrival_id", "department_id"}
_HELD_INPUTS = {"status", "assignee_id"}
_SLA_INPUTS = {
    "owner",
    "status",
    "first_response_at",
    "first_response_due_at",
    "first_response_overdue",
}


def _inbox_keys(ws: str, state: ConversationState) -> dict[str, str | None]:
    filed_under = state.assignee_id if state.status == "open" else state.last_assignee_id
    return {
        "inbox_status_pk": inbox_status_pk(ws, state.status),
        "inbox_assignee_pk": inbox_assignee_pk(ws, filed_under, state.status),
        "inbox_department_pk": (
            inbox_department_pk(ws, state.department_id, state.status)
            if state.department_id
            else None
        ),
    }


def state_attributes(
    ws: str, conversation_id: str, before: ConversationState | None, after: ConversationState
) -> tuple[dict[str, Any], list[str]]:
    """(SET values, REMOVE names) moving a conversation item from `before` to `after` (every
    attribute when `before` is None). Index key attributes are removed, never set to null:
    DynamoDB refuses a null index key, and a missing one keeps the sparse indexes sparse."""
    if before is None:
        changed = set(ConversationState.__dataclass_fields__)
    else:
        changed = set(after.changed_fields(before))
    sets: dict[str, Any] = {}
    removes: list[str] = []
    for name in changed - {"queued"}:
        sets[name] = getattr(after, name)
    if changed & _INBOX_INPUTS:
        # Only the keys whose value moves: an unchanged index key costs nothing to keep.
        old_keys = _inbox_keys(ws, before) if before else {}
        for name, value in _inbox_keys(ws, after).items():
            if before is not None and old_keys.get(name) == value:
                continue
            if value is None:
                removes.append(name)
            else:
                sets[name] = value
    if changed & _QUEUE_INPUTS:
        if after.queued and after.arrival_id:
            sets["queue_pk"] = queue_pk(ws, after.queue_key)
            sets["queue_sk"] = after.arrival_id
        else:
            removes += ["queue_pk", "queue_sk"]
    if changed & _HELD_INPUTS:
        if after.holder:
            sets["work_pk"], sets["work_sk"] = held_work_keys(ws, after.holder, conversation_id)
        else:
            removes += ["work_pk", "work_sk"]
    if changed & _SLA_INPUTS:
        if after.awaiting_first_response and after.first_response_due_at:
            sets["sla_pk"], sets["sla_sk"] = sla_keys(
                ws, conversation_id, after.first_response_due_at
            )
        else:
            removes += ["sla_pk", "sla_sk"]
    return sets, removes


def state_guard(before: ConversationState) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A condition that holds only while the item still has `before`'s routing state (status,
    owner, department, assignee, queue slot), so a transition computed from a read never
    overwrites a concurrent one."""
    names = {
        "#g_status": "status",
        "#g_owner": "owner",
        "#g_dept": "department_id",
        "#g_assignee": "assignee_id",
        "#g_queue": "queue_sk",
    }
    vals = ddb.values(g_status=before.status, g_owner=before.owner)
    parts = ["attribute_exists(pk)", "#g_status = :g_status", "#g_owner = :g_owner"]
    for placeholder, value, key in (
        ("#g_dept", before.department_id, "g_dept"),
        ("#g_assignee", before.assignee_id, "g_assignee"),
    ):
        if value is None:
            vals.update(ddb.values(g_null="NULL"))
            parts.append(
                f"(attribute_not_exists({placeholder}) OR attribute_type({placeholder}, :g_null))"
            )
        else:
            parts.append(f"{placeholder} = :{key}")
            vals.update(ddb.values(**{key: value}))
    if before.queued:
        parts.append("#g_queue = :g_queue")
        vals.update(ddb.values(g_queue=before.arrival_id))
    else:
        parts.append("attribute_not_exists(#g_queue)")
    return " AND ".join(parts), names, vals


def update_expression(
    sets: dict[str, Any],
    removes: list[str],
    adds: dict[str, Any] | None = None,
    prefix: str = "u",
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An UpdateExpression with every attribute name escaped (STATUS, OWNER … are reserved)."""
    names: dict[str, str] = {}
    vals: dict[str, Any] = {}
    clauses = []
    set_parts = []
    for i, (name, value) in enumerate(sets.items()):
        names[f"#{prefix}s{i}"] = name
        vals[f":{prefix}s{i}"] = ddb.encode(value)
        set_parts.append(f"#{prefix}s{i} = :{prefix}s{i}")
    if set_parts:
        clauses.append("SET " + ", ".join(set_parts))
    if removes:
        remove_parts = []
        for i, name in enumerate(dict.fromkeys(removes)):
            names[f"#{prefix}r{i}"] = name
            remove_parts.append(f"#{prefix}r{i}")
        clauses.append("REMOVE " + ", ".join(remove_parts))
    if adds:
        add_parts = []
        for i, (name, value) in enumerate(adds.items()):
            names[f"#{prefix}a{i}"] = name
            vals[f":{prefix}a{i}"] = ddb.encode(value)
            add_parts.append(f"#{prefix}a{i} :{prefix}a{i}")
        clauses.append("ADD " + ", ".join(add_parts))
    return " ".join(clauses), names, vals


@dataclass(frozen=True)
class Written:
    """Outcome of an idempotent write: the stored item and whether this call created it."""

    item: dict[str, Any]
    created: bool


def message_item(
    workspace_id: str,
    conversation_id: str,
    message_id: str,
    sender_type: str,
    text: str,
    created_at: str,
    expires_at: int | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": keys.conversation_pk(workspace_id, conversation_id),
        "sk": keys.MESSAGE_PREFIX + message_id,
        "item_type": "message",
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "sender_type": sender_type,
        "text": text,
        "created_at": created_at,
        **(extra or {}),
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def conversation_item(
    workspace_id: str,
    conversation_id: str,
    visitor_id: str,
    created_at: str,
    expires_at: int | None,
    owner: str,
) -> dict[str, Any]:
    pk, sk = keys.conversation(workspace_id, conversation_id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "item_type": "conversation",
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "visitor_id": visitor_id,
        "status": "open",
        "owner": owner,
        "department_id": None,
        "assignee_id": None,
        "created_at": created_at,
        "last_activity_at": created_at,
        "last_message_preview": None,
        "message_count": 0,
        "visitor_message_count": 0,
        "unread_by_agents": 0,
        "csat_rating": None,
        "visitor_pk": keys.visitor_pk(workspace_id, visitor_id),
        "visitor_sk": conversation_id,
        "inbox_status_pk": inbox_status_pk(workspace_id, "open"),
        "inbox_assignee_pk": inbox_assignee_pk(workspace_id, None, "open"),
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
        item["retention_pk"] = retention_pk(workspace_id, conversation_id)
    return item


def _client_message_marker(
    message: dict[str, Any], client_message_id: str, text_digest: str
) -> dict[str, Any]:
    """Small on purpose: ids and a digest only, so the text is written once, not twice."""
    marker = {
        "pk": message["pk"],
        "sk": keys.CLIENT_MESSAGE_PREFIX + client_message_id,
        "item_type": "client_message",
        "message_id": message["message_id"],
        "text_digest": text_digest,
    }
    if "expires_at" in message:
        marker["expires_at"] = message["expires_at"]
    return marker


def _replayed(table: str, marker: dict[str, Any]) -> Written:
    """The message a client id first created (a replay is rare: one extra read)."""
    message = ddb.get(table, marker["pk"], keys.MESSAGE_PREFIX + marker["message_id"])
    if message is None:  # expired or erased since: the client id is spent
        raise LookupError("message gone")
    return Written(message, False)


TRANSITION_PREFIX = "TRANSITION#"


def transition_item(
    workspace_id: str,
    conversation_id: str,
    before: ConversationState,
    after: ConversationState,
    at: str,
    written: Sequence[dict[str, Any]] = (),
    expires_at: int | None = None,
) -> dict[str, Any]:
    """The record of one routing transition, put in the transaction that makes it: the state
    before and after and the ids of the messages written with it (ids and times only). Sorted
    by time in the conversation's partition; it expires with the conversation's messages."""
    item: dict[str, Any] = {
        "pk": keys.conversation_pk(workspace_id, conversation_id),
        "sk": f"{TRANSITION_PREFIX}{at}#{ids.ulid()}",
        "item_type": "transition",
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "at": at,
        "before": asdict(before),
        "after": asdict(after),
        "message_ids": [w["message_id"] for w in written if w.get("item_type") == "message"],
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": ddb.to_av(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def start(
    table: str,
    conversation: dict[str, Any],
    dedupe_id: str | None,
    first: tuple[dict[str, Any], str, str] | None,
) -> tuple[Written, Written | None]:
    """Create a conversation, with its first message when `first` = (message, client id,
    text digest). A repeated `dedupe_id` returns the conversation the first call created."""
    ws, visitor_id = conversation["workspace_id"], conversation["visitor_id"]
    actions: list[dict[str, Any]] = []
    if dedupe_id is not None:
        actions.append(
            _put(
                table,
                {
                    "pk": keys.visitor_pk(ws, visitor_id),
                    "sk": keys.CLIENT_CONVERSATION_PREFIX + dedupe_id,
                    "item_type": "client_conversation",
                    "conversation_id": conversation["conversation_id"],
                    **(
                        {"expires_at": conversation["expires_at"]}
                        if "expires_at" in conversation
                        else {}
                    ),
                },
            )
        )
    if first is not None:
        message, client_message_id, text_digest = first
        conversation = {
            **conversation,
            "last_activity_at": message["created_at"],
            "last_message_preview": preview(message["text"]),
            "last_message_sender": message["sender_type"],
            "message_count": 1,
            "visitor_message_count": 1 if message["sender_type"] == "visitor" else 0,
        }
        actions.append(_put(table, conversation))
        actions.append(_put(table, _client_message_marker(message, client_message_id, text_digest)))
        actions.append(_put(table, message))
    else:
        actions.append(_put(table, conversation))
    try:
        ddb.transact(actions)
    except TransactionCancelled as cancelled:
        if dedupe_id is None or cancelled.reasons[0] != "ConditionalCheckFailed":
            raise
        existing = (
            get(table, ws, cancelled.items[0]["conversation_id"]) if cancelled.items[0] else None
        )
        if existing is None:
            raise
        replayed = None
        if first is not None:
            marker = ddb.get(table, existing["pk"], keys.CLIENT_MESSAGE_PREFIX + first[1])
            with contextlib.suppress(LookupError):
                replayed = _replayed(table, marker) if marker else None
        return Written(existing, False), replayed
    return Written(conversation, True), (Written(first[0], True) if first is not None else None)


def get(table: str, workspace_id: str, conversation_id: str) -> dict[str, Any] | None:
    pk, sk = keys.conversation(workspace_id, conversation_id)
    return ddb.get(table, pk, sk)


class ConversationChanged(Exception):
    """The conversation's routing state changed since it was read (read it again)."""


def append_visitor_message(
    table: str,
    visitor_id: str,
    message: dict[str, Any],
    client_message_id: str,
    text_digest: str,
    conversation_expires_at: int | None,
    reopen: tuple[ConversationState, ConversationState] | None = None,
    reopen_attributes: tuple[dict[str, Any], list[str]] = ({}, []),
) -> Written:
    """Add a visitor message; replaying the same client id returns the first message.

    The conversation must be open, unless `reopen` = (state as read, reopened state) moves a
    resolved one back to open in the same transaction (its index keys included, its
    transition recorded, and `reopen_attributes` = (SET, REMOVE) applied with it).

    Raises LookupError when the conversation is gone or not this visitor's, ValueError when
    the client id was already used for a different text, and ConversationChanged when the
    conversation was resolved or reopened since it was read.
    """
    sets: dict[str, Any] = {
        "last_activity_at": message["created_at"],
        "last_message_preview": preview(message["text"]),
        "last_message_sender": "visitor",
    }
    removes: list[str] = []
    ws, conversation_id = message["workspace_id"], message["conversation_id"]
    if conversation_expires_at is not None:
        sets["expires_at"] = conversation_expires_at
        sets["retention_pk"] = retention_pk(ws, conversation_id)
    actions: list[dict[str, Any]] = []
    if reopen is not None:
        state_sets, removes = state_attributes(ws, conversation_id, reopen[0], reopen[1])
        sets.update(state_sets)
        sets.update(reopen_attributes[0])
        removes = [r for r in removes + reopen_attributes[1] if r not in sets]
        guard, names, vals = state_guard(reopen[0])
        transition = transition_item(
            ws,
            conversation_id,
            *reopen,
            message["created_at"],
            [message],
            message.get("expires_at"),
        )
        actions.append(_put(table, transition))
    else:
        # Writing into an open conversation changes no routing state; a resolved one must be
        # reopened with its index keys, which the caller does by passing `reopen`.
        guard, names, vals = (
            "#g_status = :g_status",
            {"#g_status": "status"},
            ddb.values(g_status="open"),
        )
    expression, update_names, update_vals = update_expression(
        sets, removes, {"message_count": 1, "visitor_message_count": 1}
    )
    names.update(update_names)
    vals.update(update_vals)
    vals.update(ddb.values(visitor=visitor_id, now_epoch=clock.epoch()))
    update = {
        "Update": {
            "TableName": table,
            "Key": ddb.key(message["pk"], keys.CONVERSATION_SK),
            "UpdateExpression": expression,
            # The visitor may only write to their own, unexpired conversation, in the state
            # it was read in.
            "ConditionExpression": (
                f"attribute_exists(pk) AND visitor_id = :visitor AND {_LIVE} AND {guard}"
            ),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": vals,
        }
    }
    marker = _client_message_marker(message, client_message_id, text_digest)
    try:
        ddb.transact([_put(table, marker), _put(table, message), update, *actions])
    except TransactionCancelled as cancelled:
        previous = cancelled.items[0]
        if cancelled.reasons[0] == "ConditionalCheckFailed" and ddb.is_live(previous):
            assert previous is not None
            if previous["text_digest"] != text_digest:
                raise ValueError("client_message_id reused with another text") from None
            return _replayed(table, previous)
        if cancelled.reasons[2] == "ConditionalCheckFailed":
            current = cancelled.items[2]
            if ddb.is_live(current) and current and current.get("visitor_id") == visitor_id:
                raise ConversationChanged from None
            raise LookupError("conversation not found") from None
        raise
    return Written(message, True)


def list_for_visitor(
    table: str, workspace_id: str, visitor_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first. The index holds keys only, so message writes never rewrite it; the page's
    conversations are then read in one BatchGetItem."""
    visitor_pk = keys.visitor_pk(workspace_id, visitor_id)
    start_key = None
    if cursor:
        start_key = ddb.decode_cursor(
            cursor,
            expected={"visitor_pk": visitor_pk},
            prefixes={
                "pk": f"{workspace_id}#CONV#",
                "sk": keys.CONVERSATION_SK,
                "visitor_sk": "conv_",
            },
        )
    entries, last = ddb.query(
        table,
        "visitor_pk = :v",
        ddb.values(v=visitor_pk),
        index=VISITOR_INDEX,
        limit=limit,
        forward=False,
        start_key=start_key,
    )
    wanted = [(entry["pk"], entry["sk"]) for entry in entries]
    found = ddb.batch_get({table: wanted}) if wanted else {}
    items = [found[(table, pk, sk)] for pk, sk in wanted if (table, pk, sk) in found]
    return items, ddb.encode_cursor(last)


def list_messages(
    table: str, workspace_id: str, conversation_id: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Messages in order, strictly after message id `after`; returns (items, more exist)."""
    pk = keys.conversation_pk(workspace_id, conversation_id)
    low = keys.MESSAGE_PREFIX + (after or "")
    # BETWEEN is inclusive, so ask for one extra to drop `after` itself and one to see more.
    items, last = ddb.query(
        table,
        "pk = :pk AND sk BETWEEN :low AND :high",
        ddb.values(pk=pk, low=low, high=keys.MESSAGE_RANGE_END),
        limit=limit + 2,
    )
    items = [item for item in items if item["message_id"] != after]
    more = len(items) > limit or (last is not None and len(items) == limit)
    return items[:limit], more


def recent_messages(
    table: str, workspace_id: str, conversation_id: str, limit: int
) -> list[dict[str, Any]]:
    """The last `limit` messages, oldest first (one query, newest end of the range)."""
    items, _ = ddb.query(
        table,
        "pk = :pk AND sk BETWEEN :low AND :high",
        ddb.values(
            pk=keys.conversation_pk(workspace_id, conversation_id),
            low=keys.MESSAGE_PREFIX,
            high=keys.MESSAGE_RANGE_END,
        ),
        limit=limit,
        forward=False,
    )
    return items[::-1]


def rate(
    table: str,
    workspace_id: str,
    conversation_id: str,
    visitor_id: str,
    rating: int,
    comment: str | None,
    expires_at: int | None = None,
) -> dict[str, Any]:
    """Record the conversation's one CSAT rating (expiring with the conversation: pass its
    `expires_at`); raises LookupError if the conversation is not this visitor's and
    FileExistsError if it was rated already."""
    pk, sk = keys.conversation(workspace_id, conversation_id)
    now = clock.iso()
    csat = {
        "pk": pk,
        "sk": keys.CSAT_SK,
        "item_type": "csat",
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "rating": rating,
        "comment": comment,
        "created_at": now,
    }
    if expires_at is not None:
        csat["expires_at"] = expires_at
    update = {
        "Update": {
            "TableName": table,
            "Key": ddb.key(pk, sk),
            "UpdateExpression": "SET csat_rating = :rating, csat_at = :at",
            "ConditionExpression": f"attribute_exists(pk) AND visitor_id = :visitor AND {_LIVE}",
            "ExpressionAttributeValues": ddb.values(
                rating=rating, at=now, visitor=visitor_id, now_epoch=clock.epoch()
            ),
        }
    }
    try:
        ddb.transact([update, _put(table, csat)])
    except TransactionCancelled as cancelled:
        if cancelled.reasons[1] == "ConditionalCheckFailed":
            raise FileExistsError("already rated") from None
        raise LookupError("conversation not found") from None
    return csat


UNREAD_MARKER_PREFIX = "UNREAD#"
# Longer than a stream record can live (24 h) plus retries: redelivery always finds it.
UNREAD_MARKER_SECONDS = 3 * 86_400


def count_unread(table: str, workspace_id: str, conversation_id: str, message_id: str) -> bool:
    """Count one visitor message as unread by agents, exactly once.

    A small marker item and the counter move together in one transaction, so a redelivered
    stream record finds the marker and changes nothing. False when already counted or when the
    conversation is gone.
    """
    pk = keys.conversation_pk(workspace_id, conversation_id)
    marker = {
        "pk": pk,
        "sk": UNREAD_MARKER_PREFIX + message_id,
        "item_type": "unread_marker",
        "expires_at": clock.epoch() + UNREAD_MARKER_SECONDS,
    }
    try:
        ddb.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(marker),
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "NONE",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": ddb.key(pk, keys.CONVERSATION_SK),
                        "UpdateExpression": "ADD unread_by_agents :one",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": ddb.values(one=1),
                        "ReturnValuesOnConditionCheckFailure": "NONE",
                    }
                },
            ]
        )
    except TransactionCancelled:
        return False
    return True


def workspace_conversation_ids(table: str, workspace_id: str) -> Iterator[str]:
    """Every live conversation of a workspace, open and resolved, from the by_status index
    (its partitions are {ws}#STATUS#open and {ws}#STATUS#resolved): no Scan. Eventually
    consistent, like any index: for jobs over history, not for a request's decisions."""
    for status in ("open", "resolved"):
        start_key = None
        while True:
            entries, start_key = ddb.query(
                table,
                "inbox_status_pk = :pk",
                ddb.values(pk=inbox_status_pk(workspace_id, status)),
                index=STATUS_INDEX,
                start_key=start_key,
            )
            yield from (str(entry["conversation_id"]) for entry in entries)
            if not start_key:
                break


def partition(table: str, workspace_id: str, conversation_id: str) -> list[dict[str, Any]]:
    """Every live item of a conversation's partition (the conversation, its messages, notes,
    markers and transition records), in sort key order."""
    items: list[dict[str, Any]] = []
    start_key = None
    while True:
        page, start_key = ddb.query(
            table,
            "pk = :pk",
            ddb.values(pk=keys.conversation_pk(workspace_id, conversation_id)),
            start_key=start_key,
        )
        items += page
        if not start_key:
            return items
