"""Assignment data: queue entries, routing transitions, agent load, and the work indexes the
sweep reads. Conversations table (queue entries, conversation items) and Workspaces table
(agents, departments; read here, load changed only with ADD in the transactions below).

    Conversations  pk = {ws}#QUEUE#{department_id|-}   sk = {arrival ULID}
                   item_type = queue_entry, conversation_id, department_id, work_pk/work_sk

A queue entry exists exactly while its conversation's `queue_sk` names it: both are written
in one transaction. Agent `open_count` equals the number of open conversations whose
`assignee_id` is that agent: every transition that changes the holder moves the count in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yoosr import clock
from yoosr.errors import TransactionCancelled
from yoosr.models.routing import WORKSPACE_QUEUE, ConversationState
from yoosr.store import aws, ddb, keys
from yoosr.store import conversations as conv_store

QUEUE_ENTRY = "queue_entry"
DEPARTMENT_PREFIX = "DEPT#"
AGENT_PREFIX = "AGENT#"
LABEL_PREFIX = "LABEL#"
_FAILED = "ConditionalCheckFailed"

Item = dict[str, Any]


@dataclass(frozen=True)
class Tables:
    workspaces: str
    conversations: str


# ---------------------------------------------------------------- reads


def _query_all(
    table: str,
    condition: str,
    vals: dict[str, Any],
    *,
    index: str | None = None,
    limit: int | None = None,
    forward: bool = True,
    consistent: bool = False,
    projection: tuple[str, ...] = (),
) -> list[Item]:
    """Every live item of a key range (up to `limit`), following pages. Consistent reads are
    for the main table right after a write (a freed slot must be seen at once)."""
    args: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": vals,
        "ScanIndexForward": forward,
    }
    if index:
        args["IndexName"] = index
    if consistent:
        args["ConsistentRead"] = True
    if projection:
        names = {f"#p{i}": name for i, name in enumerate(projection)}
        args["ProjectionExpression"] = ", ".join(names)
        args["ExpressionAttributeNames"] = names
    items: list[Item] = []
    while True:
        if limit is not None:
            args["Limit"] = max(1, limit - len(items))
        response = aws.client("dynamodb").query(**args)
        items += ddb.live_only(ddb.from_av(av) for av in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items
        args["ExclusiveStartKey"] = last


# What the dispatcher needs of an agent (and TTL, which every read filters on).
AGENT_ROUTING_FIELDS = (
    "user_id",
    "status",
    "presence_expires_at",
    "capacity",
    "open_count",
    "departments",
    "last_assigned_at",
    ddb.TTL_ATTRIBUTE,
)


def agents_of(table: str, ws: str) -> list[Item]:
    """Every agent of a workspace, read consistently (load and presence change constantly),
    with only the fields routing needs."""
    return _query_all(
        table,
        "pk = :pk AND begins_with(sk, :prefix)",
        ddb.values(pk=ws, prefix=AGENT_PREFIX),
        consistent=True,
        projection=AGENT_ROUTING_FIELDS,
    )


def agent(table: str, ws: str, user_id: str) -> Item | None:
    return ddb.get(table, *keys.agent(ws, user_id))


def department(table: str, ws: str, department_id: str) -> Item | None:
    return ddb.get(table, ws, DEPARTMENT_PREFIX + department_id)


def departments(table: str, ws: str, department_ids: Sequence[str]) -> dict[str, Item]:
    wanted = list(dict.fromkeys(department_ids))
    if not wanted:
        return {}
    found = ddb.batch_get({table: [(ws, DEPARTMENT_PREFIX + d) for d in wanted]})
    return {item["department_id"]: item for item in found.values()}


def labels(table: str, ws: str, label_ids: Sequence[str]) -> list[Item]:
    """The workspace's labels among these ids (a label of another workspace is not found)."""
    wanted = list(dict.fromkeys(label_ids))
    if not wanted:
        return []
    return list(ddb.batch_get({table: [(ws, LABEL_PREFIX + label) for label in wanted]}).values())


def first_department(table: str, ws: str) -> Item | None:
    """The workspace's oldest department (ids are ULIDs): where a handoff without one goes."""
    found = _query_all(
        table,
        "pk = :pk AND begins_with(sk, :prefix)",
        ddb.values(pk=ws, prefix=DEPARTMENT_PREFIX),
        limit=1,
    )
    return found[0] if found else None


def workspace(table: str, ws: str) -> Item | None:
    return ddb.get(table, *keys.workspace(ws))


def queue_head(table: str, ws: str, queue_key: str, limit: int, after: str | None) -> list[Item]:
    """The oldest waiting entries of a queue, in arrival order, strictly after `after`."""
    pk = conv_store.queue_pk(ws, queue_key)
    if after:
        return _query_all(
            table,
            "pk = :pk AND sk > :after",
            ddb.values(pk=pk, after=after),
            limit=limit,
            consistent=True,
        )
    return _query_all(table, "pk = :pk", ddb.values(pk=pk), limit=limit, consistent=True)


def queue_position(table: str, ws: str, queue_key: str, arrival_id: str) -> int:
    """1 + the live entries that arrived earlier (a COUNT query: no items are returned)."""
    args: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk < :mine",
        "FilterExpression": "attribute_not_exists(expires_at) OR expires_at > :now",
        "ExpressionAttributeValues": ddb.values(
            pk=conv_store.queue_pk(ws, queue_key), mine=arrival_id, now=clock.epoch()
        ),
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    ahead = 0
    while True:
        response = aws.client("dynamodb").query(**args)
        ahead += int(response.get("Count", 0))
        last = response.get("LastEvaluatedKey")
        if not last:
            return ahead + 1
        args["ExclusiveStartKey"] = last


def queue_entry(
    ws: str,
    state: ConversationState,
    conversation_id: str,
    now: str,
    expires_at: int | None,
) -> Item:
    assert state.arrival_id is not None
    work_pk, work_sk = conv_store.queue_work_keys(ws, state.queue_key, state.arrival_id)
    item: Item = {
        "pk": conv_store.queue_pk(ws, state.queue_key),
        "sk": state.arrival_id,
        "item_type": QUEUE_ENTRY,
        "workspace_id": ws,
        "conversation_id": conversation_id,
        "department_id": state.department_id,
        "arrival_id": state.arrival_id,
        "queued_at": now,
        "work_pk": work_pk,
        "work_sk": work_sk,
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def entry_state(entry: Mapping[str, Any]) -> ConversationState:
    """What a conversation waiting on this entry must look like (all a claim needs to know)."""
    return ConversationState(
        status="open",
        owner="human",
        department_id=entry.get("department_id"),
        queued=True,
        arrival_id=str(entry["sk"]),
    )


# ---------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Claim:
    """Conditions on the agent who gains a conversation automatically: online (unexpired
    heartbeat), under capacity, and in the queue's department when it has one."""

    now_epoch: int
    department_id: str | None


class TransitionRefused(Exception):
    """Which conditions of a transition failed: `stale` (the conversation is no longer in the
    state the transition was computed from), `queue_entry_gone` (another dispatcher took
    it), `release_refused` / `gain_refused` (an agent leg), `extra_failed` (index → old item
    of an extra put that already existed)."""

    def __init__(self, items: list[Item | None]) -> None:
        super().__init__("transition refused")
        self.items = items
        self.stale = False
        self.queue_entry_gone = False
        self.release_refused: str | None = None
        self.gain_refused: str | None = None
        self.extra_failed: dict[int, Item | None] = {}


@dataclass
class Extras:
    """What else a transition writes: activity fields on the conversation and whole items
    (a message and its markers) that must land in the same transaction."""

    sets: dict[str, Any] = field(default_factory=dict)
    adds: dict[str, Any] = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)
    puts: list[Item] = field(default_factory=list)
    # One more condition on the conversation item (expression, names, values), for writers
    # whose decision rests on more than the routing state (the bot's reply cursor).
    condition: tuple[str, dict[str, str], dict[str, Any]] | None = None


def _agent_update(
    table: str,
    ws: str,
    user_id: str,
    delta: int,
    stamp: str | None,
    claim: Claim | None,
) -> dict[str, Any]:
    names: dict[str, str] = {}
    vals = ddb.values(delta=delta)
    expression = "ADD open_count :delta"
    if stamp is not None:
        expression += " SET last_assigned_at = :stamp"
        vals.update(ddb.values(stamp=stamp))
    if delta < 0:
        # Never below zero, never on an agent that is gone: the caller then retries without
        # this leg (the count it would fix no longer exists).
        condition = "attribute_exists(pk) AND open_count > :zero"
        vals.update(ddb.values(zero=0))
    elif claim is None:
        # A person chose this agent: capacity is theirs to overrule, existence is not.
        condition = "attribute_exists(pk)"
    else:
        # The claim itself: online with a live heartbeat and a free slot, checked in the same
        # transaction that takes the conversation, so two dispatchers can never both fill
        # the last slot.
        names = {"#status": "status", "#capacity": "capacity"}
        condition = "#status = :online AND presence_expires_at > :now AND open_count < #capacity"
        vals.update(ddb.values(online="online", now=claim.now_epoch))
        if claim.department_id is not None:
            condition += " AND contains(departments, :dept)"
            vals.update(ddb.values(dept=claim.department_id))
    body: dict[str, Any] = {
        "TableName": table,
        "Key": ddb.key(*keys.agent(ws, user_id)),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": vals,
    }
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def _put_new(table: str, item: Item) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": ddb.to_av(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _conversation_update(
    table: str,
    ws: str,
    conversation_id: str,
    before: ConversationState,
    after: ConversationState,
    extras: Extras,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    sets, removes = conv_store.state_attributes(ws, conversation_id, before, after)
    sets.update(extras.sets)
    removes = [r for r in removes + extras.removes if r not in sets]
    expression, names, vals = conv_store.update_expression(sets, removes, extras.adds)
    guard, guard_names, guard_vals = conv_store.state_guard(before)
    vals.update(guard_vals)
    vals.update(ddb.values(now_epoch=clock.epoch()))
    names.update(guard_names)
    condition = f"{guard} AND {conv_store.LIVE_CONDITION}"
    if extras.condition is not None:
        extra_condition, extra_names, extra_vals = extras.condition
        condition += f" AND ({extra_condition})"
        names.update(extra_names)
        vals.update(extra_vals)
    action = {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*keys.conversation(ws, conversation_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": vals,
        }
    }
    return action, sets, removes


def _queue_actions(
    table: str,
    ws: str,
    conversation_id: str,
    before: ConversationState,
    after: ConversationState,
    now: str,
    expires_at: int | None,
) -> list[tuple[str, dict[str, Any]]]:
    actions: list[tuple[str, dict[str, Any]]] = []
    old_slot = (before.queue_key, before.arrival_id) if before.queued else None
    new_slot = (after.queue_key, after.arrival_id) if after.queued else None
    if old_slot is not None and old_slot != new_slot:
        assert before.arrival_id is not None
        key = ddb.key(conv_store.queue_pk(ws, before.queue_key), before.arrival_id)
        # Gone means another dispatcher claimed it first: the caller moves on.
        delete = {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}
        actions.append(("dequeue", {"Delete": delete}))
    if new_slot is not None and new_slot != old_slot:
        entry = queue_entry(ws, after, conversation_id, now, expires_at)
        actions.append(("enqueue", _put_new(table, entry)))
    return actions


def _refusal(
    cancelled: TransactionCancelled,
    roles: list[str],
    before: ConversationState,
    after: ConversationState,
) -> TransitionRefused | None:
    refused = TransitionRefused(list(cancelled.items))
    extra_index = 0
    for role, reason, old in zip(roles, cancelled.reasons, cancelled.items, strict=False):
        failed = reason == _FAILED
        if role == "extra":
            if failed:
                refused.extra_failed[extra_index] = old
            extra_index += 1
        elif failed and role in ("conversation", "enqueue"):
            refused.stale = True
        elif failed and role == "dequeue":
            refused.queue_entry_gone = True
        elif failed and role == "release":
            refused.release_refused = before.holder
        elif failed and role == "gain":
            refused.gain_refused = after.holder
    known = (
        refused.stale
        or refused.queue_entry_gone
        or refused.release_refused
        or refused.gain_refused
        or refused.extra_failed
    )
    return refused if known else None


def write(
    tables: Tables,
    ws: str,
    conversation_id: str,
    before: ConversationState,
    after: ConversationState,
    *,
    now: str,
    expires_at: int | None = None,
    claim: Claim | None = None,
    stamp: str | None = None,
    release: bool = True,
    extras: Extras | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Move a conversation from `before` to `after` in one transaction: the conversation item
    (guarded by `before`), its queue entry, the load of the agents losing and gaining it, the
    record of the transition, and any extra items. Raises TransitionRefused naming what
    failed. Returns the (sets, removes) applied to the conversation item."""
    extras = extras or Extras()
    update, sets, removes = _conversation_update(
        tables.conversations, ws, conversation_id, before, after, extras
    )
    steps: list[tuple[str, dict[str, Any]]] = [("conversation", update)]
    if before != after:
        record = conv_store.transition_item(
            ws, conversation_id, before, after, now, extras.puts, expires_at
        )
        steps.append(("transition", _put_new(tables.conversations, record)))
    steps += _queue_actions(
        tables.conversations, ws, conversation_id, before, after, now, expires_at
    )
    if before.holder != after.holder:
        if before.holder is not None and release:
            steps.append(
                ("release", _agent_update(tables.workspaces, ws, before.holder, -1, None, None))
            )
        if after.holder is not None:
            gain = _agent_update(tables.workspaces, ws, after.holder, 1, stamp or now, claim)
            steps.append(("gain", gain))
    steps += [("extra", _put_new(tables.conversations, item)) for item in extras.puts]
    roles = [role for role, _ in steps]
    try:
        ddb.transact([action for _, action in steps])
    except TransactionCancelled as cancelled:
        refused = _refusal(cancelled, roles, before, after)
        if refused is None:
            raise
        raise refused from cancelled
    return sets, removes


def drop_entry(table: str, entry: Mapping[str, Any]) -> None:
    """Remove a queue entry whose conversation no longer waits on it (resolved, taken over,
    erased): only if it is still there, which a plain delete already guarantees."""
    aws.client("dynamodb").delete_item(TableName=table, Key=ddb.key(entry["pk"], entry["sk"]))


# ---------------------------------------------------------------- the sweep's indexes


def waiting_queues(table: str, shard_no: int) -> list[tuple[str, str]]:
    """Every (workspace, queue key) with at least one entry in this shard. A skip scan: one
    one-item query per queue, jumping past the rest of that queue's entries, so the cost
    follows the number of waiting queues, not of waiting visitors."""
    return _distinct_pairs(table, shard_no, conv_store.QUEUE_WORK_PREFIX)


def holders(table: str, shard_no: int) -> list[tuple[str, str]]:
    """Every (workspace, agent) holding an open conversation in this shard (a skip scan)."""
    return _distinct_pairs(table, shard_no, conv_store.HELD_WORK_PREFIX)


def _distinct_pairs(table: str, shard_no: int, prefix: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    low = prefix
    high = prefix + "~"
    while True:
        found = _query_all(
            table,
            "work_pk = :pk AND work_sk BETWEEN :low AND :high",
            ddb.values(pk=conv_store.work_pk(shard_no), low=low, high=high),
            index=conv_store.ROUTING_WORK_INDEX,
            limit=1,
        )
        if not found:
            return pairs
        ws, owner_key, _ = found[0]["work_sk"][len(prefix) :].split("#", 2)
        pairs.append((ws, owner_key))
        # "~" sorts after every id character: the next query starts past this pair.
        low = f"{prefix}{ws}#{owner_key}#~"


def held_by(table: str, ws: str, agent_id: str) -> list[str]:
    """Ids of the open conversations an agent holds."""
    shard_pk, _ = conv_store.held_work_keys(ws, agent_id, "")
    prefix = f"{conv_store.HELD_WORK_PREFIX}{ws}#{agent_id}#"
    found = _query_all(
        table,
        "work_pk = :pk AND begins_with(work_sk, :prefix)",
        ddb.values(pk=shard_pk, prefix=prefix),
        index=conv_store.ROUTING_WORK_INDEX,
    )
    return [item["work_sk"][len(prefix) :] for item in found]


def overdue(table: str, shard_no: int, now: str, limit: int) -> list[tuple[str, str]]:
    """(workspace, conversation) whose first-response deadline passed, earliest first."""
    found = _query_all(
        table,
        "sla_pk = :pk AND sla_sk < :now",
        ddb.values(pk=conv_store.sla_pk(shard_no), now=now),
        index=conv_store.SLA_INDEX,
        limit=limit,
    )
    pairs = []
    for item in found:
        _, ws, conversation_id = str(item["sla_sk"]).split("#", 2)
        pairs.append((ws, conversation_id))
    return pairs


def queue_key_of(department_id: str | None) -> str:
    return department_id or WORKSPACE_QUEUE
