"""Conversations table: a conversation and its messages share one partition.

    pk = {ws}#CONV#{conversation_id}   sk = CONV | MSG#{message_id} | CMID#{client id} | CSAT
    pk = {ws}#VISITOR#{visitor_id}     sk = CCID#{client conversation id}

Every write that adds a message also updates the conversation item in the same transaction,
so last activity, preview and counts never drift from the messages, however often a client
retries. Inserts of `message`, `conversation` and `csat` items are the domain events the
stream consumers react to.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from yoosr import clock
from yoosr.domain.text import preview
from yoosr.errors import TransactionCancelled
from yoosr.store import ddb, keys

VISITOR_INDEX = "by_visitor"
_LIVE = "(attribute_not_exists(expires_at) OR expires_at > :now_epoch)"


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
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
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


def append_visitor_message(
    table: str,
    visitor_id: str,
    message: dict[str, Any],
    client_message_id: str,
    text_digest: str,
    conversation_expires_at: int | None,
) -> Written:
    """Add a visitor message; replaying the same client id returns the first message.

    Raises LookupError when the conversation is gone or not this visitor's, and
    ValueError when the client id was already used for a different text.
    """
    sets = [
        "last_activity_at = :at",
        "last_message_preview = :preview",
        "last_message_sender = :sender",
        "#status = :open",
    ]
    vals = ddb.values(
        at=message["created_at"],
        preview=preview(message["text"]),
        sender="visitor",
        open="open",
        one=1,
        visitor=visitor_id,
        now_epoch=clock.epoch(),
    )
    if conversation_expires_at is not None:
        sets.append("expires_at = :expires")
        vals.update(ddb.values(expires=conversation_expires_at))
    update = {
        "Update": {
            "TableName": table,
            "Key": ddb.key(message["pk"], keys.CONVERSATION_SK),
            "UpdateExpression": "SET "
            + ", ".join(sets)
            + " ADD message_count :one, visitor_message_count :one",
            # The visitor may only write to their own, unexpired conversation.
            "ConditionExpression": f"attribute_exists(pk) AND visitor_id = :visitor AND {_LIVE}",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": vals,
        }
    }
    marker = _client_message_marker(message, client_message_id, text_digest)
    try:
        ddb.transact([_put(table, marker), _put(table, message), update])
    except TransactionCancelled as cancelled:
        previous = cancelled.items[0]
        if cancelled.reasons[0] == "ConditionalCheckFailed" and ddb.is_live(previous):
            assert previous is not None
            if previous["text_digest"] != text_digest:
                raise ValueError("client_message_id reused with another text") from None
            return _replayed(table, previous)
        if cancelled.reasons[2] == "ConditionalCheckFailed":
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


def rate(
    table: str,
    workspace_id: str,
    conversation_id: str,
    visitor_id: str,
    rating: int,
    comment: str | None,
) -> dict[str, Any]:
    """Record the conversation's one CSAT rating; raises LookupError if the conversation is not
    this visitor's and FileExistsError if it was rated already."""
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
