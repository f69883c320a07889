"""The agents' inbox: conversation lists from the inbox indexes, a conversation's messages
with its private notes, and labels. Conversations and Visitors tables.

Which index serves a list: an assignee filter → by_assignee, else a department filter →
by_department, else by_status; every index is partitioned by workspace and status and sorted
by last activity. The remaining filters (department when the assignee index serves, owner,
label) are FilterExpressions on that query: labels are few per conversation and a label view
is a narrowing of a status/department/assignee view, so an index item per label (rewritten on
every message) would cost more than the occasional filtered read. A filtered page may hold
fewer than `limit` items and still carry a next_cursor.

Private notes are NOTE#{note id} items: outside the MSG# range the widget reads, so no widget
query can return them, and they never touch the conversation's preview.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yoosr import clock
from yoosr.store import aws, ddb, keys
from yoosr.store import conversations as conv_store

NOTE_PREFIX = "NOTE#"
NOTE_RANGE_END = "NOTE#~"
# Filtered queries stop after this many index pages even if the page is not full.
MAX_FILTERED_PAGES = 5

Item = dict[str, Any]


@dataclass(frozen=True)
class InboxFilter:
    status: str
    department_id: str | None = None
    assignee: str | None = None  # a user id or conv_store.UNASSIGNED
    owner: str | None = None
    label: str | None = None


def _index_for(ws: str, wanted: InboxFilter) -> tuple[str, str, str]:
    """(index, partition attribute, partition value)."""
    if wanted.assignee is not None:
        assignee = None if wanted.assignee == conv_store.UNASSIGNED else wanted.assignee
        return (
            conv_store.ASSIGNEE_INDEX,
            "inbox_assignee_pk",
            conv_store.inbox_assignee_pk(ws, assignee, wanted.status),
        )
    if wanted.department_id is not None:
        return (
            conv_store.DEPARTMENT_INDEX,
            "inbox_department_pk",
            conv_store.inbox_department_pk(ws, wanted.department_id, wanted.status),
        )
    return conv_store.STATUS_INDEX, "inbox_status_pk", conv_store.inbox_status_pk(ws, wanted.status)


def list_conversations(
    table: str, ws: str, wanted: InboxFilter, limit: int, cursor: str | None
) -> tuple[list[Item], str | None]:
    """Newest activity first."""
    index, partition, value = _index_for(ws, wanted)
    filters: list[str] = []
    names: dict[str, str] = {"#p": partition}
    vals = ddb.values(p=value)
    if wanted.assignee is not None and wanted.department_id is not None:
        filters.append("department_id = :dept")
        vals.update(ddb.values(dept=wanted.department_id))
    if wanted.owner is not None:
        names["#owner"] = "owner"
        filters.append("#owner = :owner")
        vals.update(ddb.values(owner=wanted.owner))
    if wanted.label is not None:
        filters.append("contains(labels, :label)")
        vals.update(ddb.values(label=wanted.label))
    args: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": vals,
        "ScanIndexForward": False,
    }
    if filters:
        args["FilterExpression"] = " AND ".join(filters)
    if cursor:
        # Only a key of this very partition, and of a conversation of this workspace.
        args["ExclusiveStartKey"] = ddb.decode_cursor(
            cursor,
            expected={partition: value},
            prefixes={"pk": f"{ws}#CONV#", "sk": keys.CONVERSATION_SK, "last_activity_at": ""},
        )
    items: list[Item] = []
    last: dict[str, Any] | None = None
    for _ in range(MAX_FILTERED_PAGES if filters else 1):
        args["Limit"] = limit - len(items)
        response = aws.client("dynamodb").query(**args)
        items += ddb.live_only(ddb.from_av(av) for av in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last or len(items) >= limit:
            break
        args["ExclusiveStartKey"] = last
    return items, ddb.encode_cursor(last)


def _ulid_of(item_id: str) -> str:
    return item_id.rsplit("_", 1)[-1]


def list_messages(
    table: str, ws: str, conversation_id: str, after: str | None, limit: int
) -> tuple[list[Item], bool]:
    """Messages and private notes in order, strictly after the message or note `after`;
    returns (items, more exist). Each kind is read from its own key range and merged by id
    time (both ids are ULIDs)."""
    pk = keys.conversation_pk(ws, conversation_id)
    after_ulid = _ulid_of(after) if after else None
    merged: list[Item] = []
    more = False
    for prefix, id_prefix, end in (
        (keys.MESSAGE_PREFIX, "msg_", keys.MESSAGE_RANGE_END),
        (NOTE_PREFIX, "note_", NOTE_RANGE_END),
    ):
        # "!" sorts before every id character: `low` is just past the cursor's own id.
        low = f"{prefix}{id_prefix}{after_ulid}!" if after_ulid else prefix
        items, last = ddb.query(
            table,
            "pk = :pk AND sk BETWEEN :low AND :high",
            ddb.values(pk=pk, low=low, high=end),
            limit=limit + 1,
        )
        more = more or len(items) > limit or last is not None
        merged += items[: limit + 1]
    merged.sort(key=lambda item: _ulid_of(str(item.get("message_id") or item.get("note_id"))))
    more = more or len(merged) > limit
    return merged[:limit], more


def note_item(
    ws: str,
    conversation_id: str,
    note_id: str,
    author_id: str,
    text: str,
    expires_at: int | None,
) -> Item:
    item: Item = {
        "pk": keys.conversation_pk(ws, conversation_id),
        "sk": NOTE_PREFIX + note_id,
        "item_type": "note",
        "workspace_id": ws,
        "conversation_id": conversation_id,
        "note_id": note_id,
        "sender_type": "agent",
        "agent_id": author_id,
        "text": text,
        "private": True,
        "created_at": clock.iso(),
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def client_marker(
    message: Item, client_message_id: str, text_digest: str, id_field: str = "message_id"
) -> Item:
    """Marks a dashboard-supplied client id as used (the same marker shape the widget uses)."""
    marker = {
        "pk": message["pk"],
        "sk": keys.CLIENT_MESSAGE_PREFIX + client_message_id,
        "item_type": "client_message",
        "message_id": message[id_field],
        "message_sk": message["sk"],
        "text_digest": text_digest,
    }
    if "expires_at" in message:
        marker["expires_at"] = message["expires_at"]
    return marker


def get_item(table: str, pk: str, sk: str) -> Item | None:
    return ddb.get(table, pk, sk)


def change_labels(
    table: str, ws: str, conversation_id: str, add: list[str], remove: list[str]
) -> Item:
    """ADD then DELETE on the string set: each is atomic and they commute with concurrent
    label changes of other labels (an empty set disappears, as DynamoDB does)."""
    pk, sk = keys.conversation(ws, conversation_id)
    live = {"now_epoch": clock.epoch()}
    item: Item = {}
    for verb, labels in (("ADD", add), ("DELETE", remove)):
        if not labels:
            continue
        item = ddb.update(
            table,
            pk,
            sk,
            f"{verb} labels :labels",
            condition=f"attribute_exists(pk) AND {conv_store.LIVE_CONDITION}",
            vals=ddb.values(labels=set(labels), **live),
            return_values="ALL_NEW",
        )
    return item


def get_visitor(table: str, ws: str, visitor_id: str) -> Item | None:
    return ddb.get(table, *keys.visitor(ws, visitor_id))
