"""The bot's flows, knowledge base and config on the Workspaces table (pk = workspace id).

    sk = BOT             the bot config: greeting_flow_id (str | None), flows_version,
                         knowledge_version, flow_count, knowledge_count, updated_at
    sk = FLOW#{flow_id}  a flow: definition (the validated flow as JSON text, id and version
                         included), name, version, step_count, created_at, updated_at
    sk = KB#{entry_id}   a knowledge entry: title, content, tags, created_at, updated_at

Every flow write bumps `flows_version`, and every knowledge write `knowledge_version`, in the
same transaction as the item it writes: a reader that caches something derived from them (a
parsed flow, a knowledge index) reloads exactly when the version it saw changes.

Flow writes hold an optimistic lock on the config (`flows_version` must still be the value
read): the greeting flow and the flow count are decided from that read, so two concurrent
writes can never both pass a decision the other invalidates (two "first" flows both becoming
the greeting, a delete clearing a greeting another write just chose). A lost race re-reads and
retries. Knowledge writes need no read: the count is kept with ADD under a condition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yoosr import clock
from yoosr.bot.flows import Flow
from yoosr.bot.knowledge import KnowledgeEntry
from yoosr.errors import Conflict, NotFound, TransactionCancelled, Unavailable
from yoosr.store import ddb, keys, team

Item = dict[str, Any]

_FAILED = "ConditionalCheckFailed"
# Lost races on the config lock before giving up (503, safe to retry).
CONFIG_ATTEMPTS = 5


# ---------------------------------------------------------------- the config (read by the consumer)


@dataclass(frozen=True)
class BotConfig:
    greeting_flow_id: str | None
    flows_version: int
    knowledge_version: int


def config_key(ws: str) -> tuple[str, str]:
    """The config item's key, so callers can read it in their own BatchGetItem."""
    return keys.bot_config(ws)


def config_from_item(item: Mapping[str, Any] | None) -> BotConfig:
    """A missing item (a workspace that never saved a flow or an entry) is BotConfig(None, 0, 0)."""
    if item is None or not ddb.is_live(item):
        return BotConfig(None, 0, 0)
    greeting = item.get("greeting_flow_id")
    return BotConfig(
        greeting_flow_id=greeting if isinstance(greeting, str) and greeting else None,
        flows_version=int(item.get("flows_version") or 0),
        knowledge_version=int(item.get("knowledge_version") or 0),
    )


def get_config(table: str, ws: str) -> BotConfig:
    return config_from_item(ddb.get(table, *config_key(ws)))


def flow_from_item(item: Mapping[str, Any]) -> Flow:
    """The stored definition, parsed (it was validated when saved)."""
    return Flow.model_validate_json(item["definition"])


def get_flow(table: str, ws: str, flow_id: str) -> Flow | None:
    item = get_flow_item(table, ws, flow_id)
    return flow_from_item(item) if item is not None else None


def entry_from_item(item: Mapping[str, Any]) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=item["entry_id"],
        title=item["title"],
        content=item["content"],
        tags=tuple(item.get("tags") or ()),
    )


def list_knowledge(table: str, ws: str) -> list[KnowledgeEntry]:
    """Every live knowledge entry of the workspace, oldest first (all pages)."""
    entries: list[KnowledgeEntry] = []
    start: dict[str, Any] | None = None
    while True:
        items, start = ddb.query(
            table,
            "pk = :pk AND begins_with(sk, :prefix)",
            ddb.values(pk=ws, prefix=keys.KNOWLEDGE_PREFIX),
            start_key=start,
        )
        entries += [entry_from_item(item) for item in items]
        if not start:
            return entries


# ---------------------------------------------------------------- reads for the admin API


# One page in sort-key order (ids are ULIDs: oldest first), the cursor kept inside this
# workspace's range of the prefix: the same paging as the team's items.
_page = team.page


def get_flow_item(table: str, ws: str, flow_id: str) -> Item | None:
    return ddb.get(table, *keys.bot_flow(ws, flow_id))


def get_flow_with_config(table: str, ws: str, flow_id: str) -> tuple[Item | None, BotConfig]:
    """A flow item and the config in one consistent BatchGetItem."""
    flow_key, config = keys.bot_flow(ws, flow_id), config_key(ws)
    found = ddb.batch_get({table: [flow_key, config]})
    return found.get((table, *flow_key)), config_from_item(found.get((table, *config)))


def list_flows(
    table: str, ws: str, limit: int, cursor: str | None
) -> tuple[list[Item], str | None]:
    return _page(table, ws, keys.BOT_FLOW_PREFIX, limit, cursor)


def get_knowledge_item(table: str, ws: str, entry_id: str) -> Item | None:
    return ddb.get(table, *keys.knowledge_entry(ws, entry_id))


def list_knowledge_items(
    table: str, ws: str, limit: int, cursor: str | None
) -> tuple[list[Item], str | None]:
    return _page(table, ws, keys.KNOWLEDGE_PREFIX, limit, cursor)


# ---------------------------------------------------------------- flow writes


@dataclass(frozen=True)
class _Seen:
    """The config as read before a flow write: the premise of the write's decisions."""

    greeting_flow_id: str | None
    flows_version: int | None  # None: the attribute does not exist yet
    flow_count: int


def _read_config(table: str, ws: str) -> _Seen:
    item = ddb.get(table, *config_key(ws)) or {}
    version = item.get("flows_version")
    return _Seen(
        greeting_flow_id=config_from_item(item or None).greeting_flow_id,
        flows_version=int(version) if version is not None else None,
        flow_count=int(item.get("flow_count") or 0),
    )


class FlowChanged(Exception):
    """The flow item is no longer the version the write was based on."""

    def __init__(self, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(str(current_version))


def greeting_after(
    current: str | None, flow_id: str, active: bool | None, *, first_flow: bool = False
) -> str | None:
    """The greeting flow after a write of `flow_id`: `active: true` makes it the greeting,
    `active: false` stops it being the greeting; a workspace's first flow greets unless told
    otherwise (later flows do not go live on their own)."""
    if active is True:
        return flow_id
    if active is False:
        return None if current == flow_id else current
    if first_flow and current is None:
        return flow_id
    return current


def _config_action(
    table: str,
    ws: str,
    seen: _Seen,
    *,
    greeting: str | None,
    flow_delta: int,
    max_flows: int | None = None,
) -> dict[str, Any]:
    expression = (
        "SET greeting_flow_id = :greeting, flows_version = :next, flow_count = :count, "
        "updated_at = :now, knowledge_version = if_not_exists(knowledge_version, :zero), "
        "knowledge_count = if_not_exists(knowledge_count, :zero)"
    )
    vals = ddb.values(
        greeting=greeting,
        next=(seen.flows_version or 0) + 1,
        count=max(0, seen.flow_count + flow_delta),
        now=clock.iso(),
        zero=0,
    )
    # The lock: greeting and count above were decided from this version of the config.
    if seen.flows_version is None:
        condition = "attribute_not_exists(flows_version)"
    else:
        condition = "flows_version = :seen"
        vals.update(ddb.values(seen=seen.flows_version))
    if max_flows is not None:
        # Implied by the lock (the count was read under it), stated so the cap is a condition.
        condition += " AND (attribute_not_exists(flow_count) OR flow_count < :max)"
        vals.update(ddb.values(max=max_flows))
    return {
        "Update": {
            "TableName": table,
            "Key": ddb.key(*config_key(ws)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": vals,
        }
    }


def _flow_item(ws: str, flow: Flow, created_at: str, now: str) -> Item:
    pk, sk = keys.bot_flow(ws, flow.id)
    definition = flow.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "pk": pk,
        "sk": sk,
        "item_type": "bot_flow",
        "workspace_id": ws,
        "flow_id": flow.id,
        "name": flow.name,
        "version": flow.version,
        "step_count": len(flow.steps),
        "definition": json.dumps(definition, separators=(",", ":"), ensure_ascii=False),
        "created_at": created_at,
        "updated_at": now,
    }


def _flow_limit(max_flows: int) -> Conflict:
    return Conflict(
        f"A workspace can have at most {max_flows} bot flows; delete one first.",
        code="flow_limit",
    )


def create_flow(
    table: str, ws: str, flow: Flow, *, active: bool | None, max_flows: int
) -> tuple[Item, str | None]:
    """Store a new flow, count it and bump flows_version in one transaction; returns the item
    and the greeting flow id after the write. Beyond `max_flows` flows: Conflict `flow_limit`."""
    now = clock.iso()
    item = _flow_item(ws, flow, now, now)
    for _ in range(CONFIG_ATTEMPTS):
        seen = _read_config(table, ws)
        if seen.flow_count >= max_flows:
            raise _flow_limit(max_flows)
        greeting = greeting_after(
            seen.greeting_flow_id, flow.id, active, first_flow=seen.flow_count == 0
        )
        try:
            ddb.transact(
                [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": ddb.to_av(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    _config_action(
                        table, ws, seen, greeting=greeting, flow_delta=1, max_flows=max_flows
                    ),
                ]
            )
        except TransactionCancelled as error:
            if error.reasons[0] == _FAILED:  # pragma: no cover - a fresh ULID never collides
                raise Conflict("The flow id is already taken; retry.") from error
            continue  # the config changed since it was read: decide again
        return item, greeting
    raise Unavailable("The bot configuration is changing; retry shortly.")


def replace_flow(
    table: str,
    ws: str,
    flow: Flow,
    *,
    previous_version: int,
    created_at: str,
    active: bool | None,
) -> tuple[Item, str | None]:
    """Replace a flow's definition with `flow` (whose version is previous_version + 1), on
    condition that the stored flow is still `previous_version`; returns the item and the
    greeting flow id after the write. Raises FlowChanged if the stored flow is another
    version, NotFound if it is gone."""
    item = _flow_item(ws, flow, created_at, clock.iso())
    for _ in range(CONFIG_ATTEMPTS):
        seen = _read_config(table, ws)
        greeting = greeting_after(seen.greeting_flow_id, flow.id, active)
        try:
            ddb.transact(
                [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": ddb.to_av(item),
                            # Versions only move up by one from what the caller read: two
                            # concurrent saves cannot both become version N + 1.
                            "ConditionExpression": "attribute_exists(pk) AND version = :previous",
                            "ExpressionAttributeValues": ddb.values(previous=previous_version),
                        }
                    },
                    _config_action(table, ws, seen, greeting=greeting, flow_delta=0),
                ]
            )
        except TransactionCancelled as error:
            if error.reasons[0] == _FAILED:
                old = error.items[0]
                if old is None or not ddb.is_live(old):
                    raise NotFound("Flow not found.") from error
                raise FlowChanged(int(old.get("version") or 0)) from error
            continue
        return item, greeting
    raise Unavailable("The bot configuration is changing; retry shortly.")


def delete_flow(table: str, ws: str, flow_id: str) -> None:
    """Delete a flow, uncount it and bump flows_version; deleting the greeting flow leaves the
    workspace without one (no other flow goes live on its own). NotFound if it is gone."""
    pk, sk = keys.bot_flow(ws, flow_id)
    for _ in range(CONFIG_ATTEMPTS):
        seen = _read_config(table, ws)
        greeting = None if seen.greeting_flow_id == flow_id else seen.greeting_flow_id
        try:
            ddb.transact(
                [
                    {
                        "Delete": {
                            "TableName": table,
                            "Key": ddb.key(pk, sk),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    _config_action(table, ws, seen, greeting=greeting, flow_delta=-1),
                ]
            )
        except TransactionCancelled as error:
            if error.reasons[0] == _FAILED:
                raise NotFound("Flow not found.") from error
            continue
        return
    raise Unavailable("The bot configuration is changing; retry shortly.")


# ---------------------------------------------------------------- knowledge writes


def _knowledge_config_action(
    table: str, ws: str, *, count_delta: int, max_entries: int | None = None
) -> dict[str, Any]:
    vals = ddb.values(now=clock.iso(), one=1, delta=count_delta, zero=0, null=None)
    action: dict[str, Any] = {
        "TableName": table,
        "Key": ddb.key(*config_key(ws)),
        # The flow attributes are created absent-only, so the config item is always complete.
        "UpdateExpression": "SET updated_at = :now, "
        "greeting_flow_id = if_not_exists(greeting_flow_id, :null), "
        "flows_version = if_not_exists(flows_version, :zero), "
        "flow_count = if_not_exists(flow_count, :zero) "
        "ADD knowledge_version :one, knowledge_count :delta",
        "ExpressionAttributeValues": vals,
    }
    if max_entries is not None:
        # The cap holds under concurrent creations: the count is checked where it is kept.
        action["ConditionExpression"] = (
            "attribute_not_exists(knowledge_count) OR knowledge_count < :max"
        )
        vals.update(ddb.values(max=max_entries))
    return {"Update": action}


def knowledge_item(
    ws: str,
    entry_id: str,
    *,
    title: str,
    content: str,
    tags: list[str],
    created_at: str,
    updated_at: str,
) -> Item:
    pk, sk = keys.knowledge_entry(ws, entry_id)
    return {
        "pk": pk,
        "sk": sk,
        "item_type": "knowledge_entry",
        "workspace_id": ws,
        "entry_id": entry_id,
        "title": title,
        "content": content,
        "tags": list(tags),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def create_knowledge(table: str, item: Item, *, max_entries: int) -> None:
    """Store a new entry, count it and bump knowledge_version in one transaction. Beyond
    `max_entries` entries: Conflict `knowledge_limit`."""
    try:
        ddb.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                _knowledge_config_action(
                    table, item["workspace_id"], count_delta=1, max_entries=max_entries
                ),
            ]
        )
    except TransactionCancelled as error:
        if error.reasons[1] == _FAILED:
            raise Conflict(
                f"A workspace can have at most {max_entries} knowledge entries; delete one first.",
                code="knowledge_limit",
            ) from error
        raise Conflict("The entry id is already taken; retry.") from error  # pragma: no cover


def replace_knowledge(table: str, item: Item) -> None:
    """Replace an existing entry and bump knowledge_version; NotFound if it is gone."""
    try:
        ddb.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(item),
                        # Never recreate an entry deleted meanwhile (it is no longer counted).
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                _knowledge_config_action(table, item["workspace_id"], count_delta=0),
            ]
        )
    except TransactionCancelled as error:
        raise NotFound("Knowledge entry not found.") from error


def delete_knowledge(table: str, ws: str, entry_id: str) -> None:
    """Delete an entry, uncount it and bump knowledge_version; NotFound if it is gone."""
    pk, sk = keys.knowledge_entry(ws, entry_id)
    try:
        ddb.transact(
            [
                {
                    "Delete": {
                        "TableName": table,
                        "Key": ddb.key(pk, sk),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                _knowledge_config_action(table, ws, count_delta=-1),
            ]
        )
    except TransactionCancelled as error:
        raise NotFound("Knowledge entry not found.") from error
