"""Bot administration use cases: flows, the knowledge base and the preview playground.

Each takes the authenticated dashboard caller (whose workspace is the token's organization,
never a request parameter) and a parsed body, and returns a response model; the routes in
functions/bot_reply only adapt HTTP to these calls. Storage and its invariants (versions bumped
in the same transaction, counts capped by conditions, the greeting flow) are in
yoosr.store.bot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from yoosr import clock, ids
from yoosr.bot import preview, safety
from yoosr.bot.engine import BotContext, VisitorMessage
from yoosr.bot.flows import Flow, validate_flow
from yoosr.bot.knowledge import KnowledgeIndex, KnowledgeIndexCache
from yoosr.dashboard.access import DashboardCaller
from yoosr.domain import business_hours
from yoosr.errors import Conflict, NotFound, Unavailable, ValidationFailed
from yoosr.models.bot import (
    FlowOut,
    FlowSummaryOut,
    KnowledgeIn,
    KnowledgeOut,
    PreviewIn,
    PreviewOut,
)
from yoosr.models.common import Page
from yoosr.observability import count, logger
from yoosr.settings import BotAdminSettings
from yoosr.store import bot as store

FLOW_ID = ids.id_pattern("flow")
ENTRY_ID = ids.id_pattern("kb")
# A stored definition must leave room in DynamoDB's 400 KB item for the other attributes.
MAX_DEFINITION_BYTES = 350_000
# Saves that lose a race with another save of the same flow (no expected version given).
SAVE_ATTEMPTS = 3

# Knowledge indexes kept across invocations of a warm Lambda, rebuilt when the version moves.
_indexes = KnowledgeIndexCache()


def _checked_id(pattern: re.Pattern[str], value: str, what: str) -> str:
    """A malformed id cannot name anything: 404, like an unknown one, without a read."""
    if not pattern.fullmatch(value):
        raise NotFound(f"{what} not found.")
    return value


# ---------------------------------------------------------------- flows


def _flow_body(
    body: Mapping[str, Any], flow_id: str | None
) -> tuple[dict[str, Any], bool | None, int | None]:
    """Split a flow body into the flow's own fields, `active` and (on PUT) the expected
    version. On POST the server assigns id and version, so neither may be sent."""
    data = dict(body)
    errors: list[dict[str, str]] = []
    active = data.pop("active", None)
    if active is not None and not isinstance(active, bool):
        errors.append({"field": "active", "message": "must be true or false"})
    expected: Any = None
    if flow_id is None:
        for field in ("id", "version"):
            if field in data:
                errors.append({"field": field, "message": f"{field} is assigned by the server"})
    else:
        if "id" in data and data.pop("id") != flow_id:
            errors.append({"field": "id", "message": "must be the id in the path"})
        expected = data.pop("version", None)
        if expected is not None and (
            isinstance(expected, bool) or not isinstance(expected, int) or expected < 1
        ):
            errors.append({"field": "version", "message": "must be the version you edited"})
    if errors:
        raise ValidationFailed("The flow failed validation.", details=errors)
    return data, active, expected


def _validated(data: Mapping[str, Any], flow_id: str) -> Flow:
    flow = validate_flow({**data, "id": flow_id, "version": 1})
    size = len(flow.model_dump_json(by_alias=True, exclude_none=True).encode())
    if size > MAX_DEFINITION_BYTES:
        raise ValidationFailed(
            "The flow is too large.",
            code="flow_too_large",
            details=[{"field": "steps", "message": f"at most {MAX_DEFINITION_BYTES} bytes"}],
        )
    return flow


def _flow_out(item: Mapping[str, Any], greeting_flow_id: str | None) -> FlowOut:
    return FlowOut.model_validate(
        {
            **json.loads(item["definition"]),
            "active": item["flow_id"] == greeting_flow_id,
            "created_at": item["created_at"],
            "updated_at": item["updated_at"],
        }
    )


def _summary_out(item: Mapping[str, Any], greeting_flow_id: str | None) -> FlowSummaryOut:
    return FlowSummaryOut(
        id=item["flow_id"],
        name=item["name"],
        version=item["version"],
        active=item["flow_id"] == greeting_flow_id,
        step_count=item["step_count"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def _version_conflict(current: int) -> Conflict:
    return Conflict(
        "The flow changed since you read it; reload it and apply your change again.",
        code="version_conflict",
        details=[{"field": "version", "message": f"the flow is at version {current}"}],
    )


def list_flows(
    settings: BotAdminSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[FlowSummaryOut]:
    table = settings.workspaces_table
    items, next_cursor = store.list_flows(table, caller.workspace_id, limit, cursor)
    greeting = store.get_config(table, caller.workspace_id).greeting_flow_id
    return Page[FlowSummaryOut](
        items=[_summary_out(item, greeting) for item in items], next_cursor=next_cursor
    )


def get_flow(settings: BotAdminSettings, caller: DashboardCaller, flow_id: str) -> FlowOut:
    _checked_id(FLOW_ID, flow_id, "Flow")
    item, config = store.get_flow_with_config(
        settings.workspaces_table, caller.workspace_id, flow_id
    )
    if item is None:
        raise NotFound("Flow not found.")
    return _flow_out(item, config.greeting_flow_id)


def create_flow(
    settings: BotAdminSettings, caller: DashboardCaller, body: Mapping[str, Any]
) -> FlowOut:
    data, active, _ = _flow_body(body, None)
    flow = _validated(data, ids.new_id("flow"))
    item, greeting = store.create_flow(
        settings.workspaces_table,
        caller.workspace_id,
        flow,
        active=active,
        max_flows=settings.max_flows,
    )
    logger.info("bot flow created", extra={"flow_id": flow.id, "steps": len(flow.steps)})
    count("BotFlowSaved")
    return _flow_out(item, greeting)


def replace_flow(
    settings: BotAdminSettings, caller: DashboardCaller, flow_id: str, body: Mapping[str, Any]
) -> FlowOut:
    """A new definition, version + 1. With `version` in the body the save is refused (409)
    unless the flow is still at that version; without it the last save wins."""
    _checked_id(FLOW_ID, flow_id, "Flow")
    data, active, expected = _flow_body(body, flow_id)
    flow = _validated(data, flow_id)
    table, ws = settings.workspaces_table, caller.workspace_id
    for _ in range(SAVE_ATTEMPTS):
        current = store.get_flow_item(table, ws, flow_id)
        if current is None:
            raise NotFound("Flow not found.")
        version = int(current["version"])
        if expected is not None and expected != version:
            raise _version_conflict(version)
        try:
            item, greeting = store.replace_flow(
                table,
                ws,
                flow.model_copy(update={"version": version + 1}),
                previous_version=version,
                created_at=current["created_at"],
                active=active,
            )
        except store.FlowChanged as changed:
            if expected is not None:
                raise _version_conflict(changed.current_version) from changed
            continue
        logger.info("bot flow saved", extra={"flow_id": flow_id, "version": version + 1})
        count("BotFlowSaved")
        return _flow_out(item, greeting)
    raise Unavailable("The flow is being saved by someone else; retry shortly.")


def delete_flow(settings: BotAdminSettings, caller: DashboardCaller, flow_id: str) -> None:
    _checked_id(FLOW_ID, flow_id, "Flow")
    store.delete_flow(settings.workspaces_table, caller.workspace_id, flow_id)
    logger.info("bot flow deleted", extra={"flow_id": flow_id})
    count("BotFlowDeleted")


# ---------------------------------------------------------------- knowledge


def _entry_out(item: Mapping[str, Any]) -> KnowledgeOut:
    return KnowledgeOut(
        id=item["entry_id"],
        title=item["title"],
        content=item["content"],
        tags=list(item.get("tags") or []),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def list_knowledge(
    settings: BotAdminSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[KnowledgeOut]:
    items, next_cursor = store.list_knowledge_items(
        settings.workspaces_table, caller.workspace_id, limit, cursor
    )
    return Page[KnowledgeOut](items=[_entry_out(i) for i in items], next_cursor=next_cursor)


def get_knowledge(
    settings: BotAdminSettings, caller: DashboardCaller, entry_id: str
) -> KnowledgeOut:
    _checked_id(ENTRY_ID, entry_id, "Knowledge entry")
    item = store.get_knowledge_item(settings.workspaces_table, caller.workspace_id, entry_id)
    if item is None:
        raise NotFound("Knowledge entry not found.")
    return _entry_out(item)


def create_knowledge(
    settings: BotAdminSettings, caller: DashboardCaller, body: KnowledgeIn
) -> KnowledgeOut:
    now = clock.iso()
    entry_id = ids.new_id("kb")
    item = store.knowledge_item(
        caller.workspace_id,
        entry_id,
        title=body.title,
        content=body.content,
        tags=body.tags,
        created_at=now,
        updated_at=now,
    )
    store.entry_from_item(item)  # what the bot will index: fails here, never in a reply
    store.create_knowledge(
        settings.workspaces_table, item, max_entries=settings.max_knowledge_entries
    )
    logger.info("knowledge entry created", extra={"entry_id": entry_id})
    count("KnowledgeEntrySaved")
    return _entry_out(item)


def replace_knowledge(
    settings: BotAdminSettings, caller: DashboardCaller, entry_id: str, body: KnowledgeIn
) -> KnowledgeOut:
    _checked_id(ENTRY_ID, entry_id, "Knowledge entry")
    table = settings.workspaces_table
    current = store.get_knowledge_item(table, caller.workspace_id, entry_id)
    if current is None:
        raise NotFound("Knowledge entry not found.")
    item = store.knowledge_item(
        caller.workspace_id,
        entry_id,
        title=body.title,
        content=body.content,
        tags=body.tags,
        created_at=current["created_at"],
        updated_at=clock.iso(),
    )
    store.entry_from_item(item)
    store.replace_knowledge(table, item)
    logger.info("knowledge entry saved", extra={"entry_id": entry_id})
    count("KnowledgeEntrySaved")
    return _entry_out(item)


def delete_knowledge(settings: BotAdminSettings, caller: DashboardCaller, entry_id: str) -> None:
    _checked_id(ENTRY_ID, entry_id, "Knowledge entry")
    store.delete_knowledge(settings.workspaces_table, caller.workspace_id, entry_id)
    logger.info("knowledge entry deleted", extra={"entry_id": entry_id})
    count("KnowledgeEntryDeleted")


# ---------------------------------------------------------------- preview


def _preview_flow(table: str, ws: str, flow_id: str | None) -> tuple[Flow, int]:
    """The flow to preview (the one named, else the greeting flow) and the knowledge
    version it is previewed against."""
    if flow_id is not None:
        _checked_id(FLOW_ID, flow_id, "Flow")
        item, config = store.get_flow_with_config(table, ws, flow_id)
        if item is None:
            raise NotFound("Flow not found.")
        return store.flow_from_item(item), config.knowledge_version
    config = store.get_config(table, ws)
    found = (
        store.get_flow_item(table, ws, config.greeting_flow_id) if config.greeting_flow_id else None
    )
    if found is None:
        raise Conflict(
            "This workspace has no greeting flow: mark a flow active, or name one in flow_id.",
            code="no_greeting_flow",
        )
    return store.flow_from_item(found), config.knowledge_version


def run_preview(settings: BotAdminSettings, caller: DashboardCaller, body: PreviewIn) -> PreviewOut:
    """What the bot would say and do, with no side effects: reads only, no model call, no
    budget, nothing written."""
    table, ws = settings.workspaces_table, caller.workspace_id
    flow, knowledge_version = _preview_flow(table, ws, body.flow_id)
    workspace = caller.workspace.settings
    hours_open = body.business_hours_open
    if hours_open is None:
        hours_open, _ = business_hours.status(workspace.business_hours, clock.now())

    def index() -> KnowledgeIndex:
        return _indexes.get(ws, str(knowledge_version), lambda: store.list_knowledge(table, ws))

    context = BotContext(
        attributes=dict(body.attributes),
        business_hours_open=hours_open,
        agents_online=body.agents_online,
        answer=preview.offline_answerer(index, safety.link_domains(workspace.allowed_origins)),
    )
    messages = [VisitorMessage(text=m.text, value=m.value) for m in body.messages]
    result = preview.run(flow, messages, context)
    logger.info("bot preview", extra={"flow_id": flow.id, "turns": len(messages)})
    return result
