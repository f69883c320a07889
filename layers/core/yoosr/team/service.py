"""Team use cases. Each takes the settings, the authenticated dashboard caller and a validated
body, and returns a response model; the agent_routing routes only adapt HTTP to these calls.

Every object is addressed by (caller's workspace, id): an id of another workspace is simply
not found (404), whoever asks.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from yoosr import clock, ids
from yoosr.dashboard.access import DashboardCaller
from yoosr.errors import ConditionFailed, Conflict, NotFound, ValidationFailed
from yoosr.models.common import Page
from yoosr.models.team import (
    AgentOut,
    AgentUpdate,
    CannedCreate,
    CannedOut,
    CannedUpdate,
    DepartmentCreate,
    DepartmentOut,
    DepartmentUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    StatusIn,
    valid_shortcut,
)
from yoosr.observability import count, logger
from yoosr.settings import AgentRoutingSettings
from yoosr.store import agents, team
from yoosr.team import rules

DEPARTMENT_ID = ids.id_pattern("dept")
LABEL_ID = ids.id_pattern("label")
CANNED_ID = ids.id_pattern("canned")
# Clerk user ids (user_…); anything else cannot name an agent.
USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
OPTIMISTIC_ATTEMPTS = 3

Item = dict[str, Any]


def _valid_id(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise NotFound(f"{what} not found.")
    return value


def _conflict_after_retries() -> Conflict:
    return Conflict("Someone else changed this at the same time; retry.", code="concurrent_update")


# ---------------------------------------------------------------- dispatcher


DispatchFn = Callable[[AgentRoutingSettings, str, list[str]], int]


def _dispatcher() -> DispatchFn | None:
    """The assignment engine's entry point, when this build has it."""
    try:
        module = importlib.import_module("yoosr.routing.dispatcher")
    except ModuleNotFoundError as error:
        if error.name in {"yoosr.routing", "yoosr.routing.dispatcher"}:
            return None
        raise
    dispatch: DispatchFn = module.dispatch_workspace
    return dispatch


def _wake_dispatcher(
    settings: AgentRoutingSettings, workspace_id: str, department_ids: list[str] | None
) -> None:
    """Let queued conversations move now that an agent can take more. Best effort: the team
    change is already stored, and the scheduled sweep assigns whatever this misses."""
    if department_ids is None:
        return
    dispatch = _dispatcher()
    if dispatch is None:
        return
    try:
        assigned = dispatch(settings, workspace_id, department_ids)
    except Exception:
        logger.exception("dispatch after a team change failed; the sweep will catch up")
        return
    logger.info("dispatched after team change", extra={"assigned": assigned})


# ---------------------------------------------------------------- departments


def _department_out(item: Item) -> DepartmentOut:
    return DepartmentOut(
        id=item["department_id"],
        name=item["name"],
        routing_strategy=item["routing_strategy"],
        business_hours=item.get("business_hours"),
        first_response_sla_seconds=item.get("first_response_sla_seconds"),
        member_count=int(item.get("member_count", 0)),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def list_departments(
    settings: AgentRoutingSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[DepartmentOut]:
    items, next_cursor = team.page(
        settings.workspaces_table, caller.workspace_id, team.DEPARTMENT_PREFIX, limit, cursor
    )
    return Page(items=[_department_out(i) for i in items], next_cursor=next_cursor)


def create_department(
    settings: AgentRoutingSettings, caller: DashboardCaller, body: DepartmentCreate
) -> DepartmentOut:
    department_id = ids.new_id("dept")
    now = clock.iso()
    pk, sk = team.department_key(caller.workspace_id, department_id)
    item: Item = {
        "pk": pk,
        "sk": sk,
        "item_type": "department",
        "workspace_id": caller.workspace_id,
        "department_id": department_id,
        **body.model_dump(mode="json"),
        "member_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    team.create_department(settings.workspaces_table, item)
    count("DepartmentsCreated")
    return _department_out(item)


def get_department(
    settings: AgentRoutingSettings, caller: DashboardCaller, department_id: str
) -> DepartmentOut:
    _valid_id(DEPARTMENT_ID, department_id, "Department")
    item = team.get_department(settings.workspaces_table, caller.workspace_id, department_id)
    if item is None:
        raise NotFound("Department not found.")
    return _department_out(item)


def update_department(
    settings: AgentRoutingSettings,
    caller: DashboardCaller,
    department_id: str,
    body: DepartmentUpdate,
) -> DepartmentOut:
    _valid_id(DEPARTMENT_ID, department_id, "Department")
    changes = {**body.given(), "updated_at": clock.iso()}
    item = team.update_department(
        settings.workspaces_table, caller.workspace_id, department_id, changes
    )
    return _department_out(item)


def delete_department(
    settings: AgentRoutingSettings, caller: DashboardCaller, department_id: str
) -> None:
    _valid_id(DEPARTMENT_ID, department_id, "Department")
    team.delete_department(settings.workspaces_table, caller.workspace_id, department_id)


# ---------------------------------------------------------------- agents


def _agent_out(item: Item, now: int) -> AgentOut:
    state = rules.AgentState.of(item, now)
    expires = item.get("presence_expires_at")
    open_count = int(item.get("open_count", 0))
    return AgentOut(
        user_id=item["user_id"],
        role=item["role"],
        status=state.status,
        departments=list(state.departments),
        capacity=state.capacity,
        open_count=open_count,
        available=rules.is_available(state, open_count),
        last_heartbeat_at=item.get("last_heartbeat_at"),
        presence_expires_at=(
            clock.iso_from_epoch(expires) if expires and state.status != "offline" else None
        ),
        last_assigned_at=item.get("last_assigned_at"),
        created_at=item.get("created_at"),
    )


def list_agents(
    settings: AgentRoutingSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[AgentOut]:
    items, next_cursor = agents.page(settings.workspaces_table, caller.workspace_id, limit, cursor)
    now = clock.epoch()
    return Page(items=[_agent_out(i, now) for i in items], next_cursor=next_cursor)


def _read_agent(settings: AgentRoutingSettings, workspace_id: str, user_id: str) -> Item:
    item = agents.get(settings.workspaces_table, workspace_id, user_id)
    if item is None:
        raise NotFound("Agent not found.")
    return item


def update_agent(
    settings: AgentRoutingSettings, caller: DashboardCaller, user_id: str, body: AgentUpdate
) -> AgentOut:
    _valid_id(USER_ID, user_id, "Agent")
    table, ws = settings.workspaces_table, caller.workspace_id
    wanted = rules.ordered_unique(body.departments) if body.departments is not None else None
    if wanted:
        unknown = [d for d in wanted if d not in team.departments_found(table, ws, wanted)]
        if unknown:
            raise ValidationFailed(
                details=[
                    {
                        "field": "departments",
                        "message": f"unknown department {d}",
                        "type": "unknown_department",
                    }
                    for d in unknown
                ]
            )
    for _ in range(OPTIMISTIC_ATTEMPTS):
        agent = _read_agent(settings, ws, user_id)
        before = list(agent.get("departments") or [])
        departments = before if wanted is None else wanted
        capacity = int(agent.get("capacity", 0)) if body.capacity is None else body.capacity
        change = rules.membership_change(before, departments)
        # A department already gone cannot be decremented; it held no members anyway.
        removed = change.removed
        if removed:
            removed = [d for d in removed if d in team.departments_found(table, ws, removed)]
        try:
            agents.set_team(
                table,
                agent,
                departments=departments,
                capacity=capacity,
                added=change.added,
                removed=removed,
                now=clock.iso(),
            )
        except ConditionFailed:
            continue
        now = clock.epoch()
        after = {**agent, "departments": departments, "capacity": capacity}
        _wake_dispatcher(
            settings,
            ws,
            rules.departments_to_dispatch(
                rules.AgentState.of(agent, now), rules.AgentState.of(after, now)
            ),
        )
        return _agent_out(after, now)
    raise _conflict_after_retries()


def set_status(settings: AgentRoutingSettings, caller: DashboardCaller, body: StatusIn) -> AgentOut:
    """The caller's own presence; also the heartbeat that keeps it."""
    now = clock.epoch()
    expires = rules.presence_expiry(body.status, now, settings.presence_ttl_seconds)
    heartbeat_at = clock.iso()
    before = agents.set_presence(
        settings.workspaces_table,
        caller.workspace_id,
        caller.user_id,
        body.status,
        expires,
        heartbeat_at,
    )
    after = {
        **before,
        "status": body.status,
        "presence_expires_at": expires,
        "last_heartbeat_at": heartbeat_at,
    }
    old_state, new_state = rules.AgentState.of(before, now), rules.AgentState.of(after, now)
    if old_state.status != new_state.status:
        logger.info("presence changed", extra={"from": old_state.status, "to": new_state.status})
    _wake_dispatcher(
        settings, caller.workspace_id, rules.departments_to_dispatch(old_state, new_state)
    )
    return _agent_out(after, now)


# ---------------------------------------------------------------- labels and canned responses


def _label_out(item: Item) -> LabelOut:
    return LabelOut(
        id=item["label_id"],
        name=item["name"],
        color=item["color"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def _canned_out(item: Item) -> CannedOut:
    return CannedOut(
        id=item["canned_id"],
        shortcut=item["shortcut"],
        title=item["title"],
        content=item["content"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def _new_object(kind: team.UniqueKind, ws: str, prefix: str, fields: Item) -> Item:
    object_id = ids.new_id(prefix)
    now = clock.iso()
    return {
        "pk": ws,
        "sk": kind.item_prefix + object_id,
        "item_type": kind.name,
        "workspace_id": ws,
        kind.id_field: object_id,
        **fields,
        "created_at": now,
        "updated_at": now,
    }


def _read_object(
    settings: AgentRoutingSettings, kind: team.UniqueKind, ws: str, object_id: str, what: str
) -> Item:
    item = team.get_object(settings.workspaces_table, kind, ws, object_id)
    if item is None:
        raise NotFound(f"{what} not found.")
    return item


def _change_object(
    settings: AgentRoutingSettings,
    kind: team.UniqueKind,
    ws: str,
    object_id: str,
    what: str,
    changes: Item,
) -> Item:
    """Apply changes to an object, retrying when a concurrent change got in first."""
    for _ in range(OPTIMISTIC_ATTEMPTS):
        old = _read_object(settings, kind, ws, object_id, what)
        stamped = {**changes, "updated_at": clock.iso()}
        try:
            team.change_object(settings.workspaces_table, kind, old, stamped)
        except ConditionFailed:
            continue
        return {**old, **stamped}
    raise _conflict_after_retries()


def _delete_object(
    settings: AgentRoutingSettings, kind: team.UniqueKind, ws: str, object_id: str, what: str
) -> None:
    for _ in range(OPTIMISTIC_ATTEMPTS):
        old = _read_object(settings, kind, ws, object_id, what)
        try:
            team.delete_object(settings.workspaces_table, kind, old)
        except ConditionFailed:
            continue
        return
    raise _conflict_after_retries()


def list_labels(
    settings: AgentRoutingSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[LabelOut]:
    items, next_cursor = team.page(
        settings.workspaces_table, caller.workspace_id, team.LABEL_PREFIX, limit, cursor
    )
    return Page(items=[_label_out(i) for i in items], next_cursor=next_cursor)


def create_label(
    settings: AgentRoutingSettings, caller: DashboardCaller, body: LabelCreate
) -> LabelOut:
    item = _new_object(
        team.LABELS,
        caller.workspace_id,
        "label",
        {"name": body.name, "name_key": rules.name_key(body.name), "color": body.color},
    )
    team.create_object(settings.workspaces_table, team.LABELS, item)
    return _label_out(item)


def get_label(settings: AgentRoutingSettings, caller: DashboardCaller, label_id: str) -> LabelOut:
    _valid_id(LABEL_ID, label_id, "Label")
    return _label_out(_read_object(settings, team.LABELS, caller.workspace_id, label_id, "Label"))


def update_label(
    settings: AgentRoutingSettings, caller: DashboardCaller, label_id: str, body: LabelUpdate
) -> LabelOut:
    _valid_id(LABEL_ID, label_id, "Label")
    changes = body.given()
    if body.name is not None:
        changes["name_key"] = rules.name_key(body.name)
    item = _change_object(settings, team.LABELS, caller.workspace_id, label_id, "Label", changes)
    return _label_out(item)


def delete_label(settings: AgentRoutingSettings, caller: DashboardCaller, label_id: str) -> None:
    _valid_id(LABEL_ID, label_id, "Label")
    _delete_object(settings, team.LABELS, caller.workspace_id, label_id, "Label")


def list_canned(
    settings: AgentRoutingSettings,
    caller: DashboardCaller,
    limit: int,
    cursor: str | None,
    shortcut: str | None = None,
    prefix: str | None = None,
) -> Page[CannedOut]:
    """All canned responses (oldest first); the one with `shortcut` (zero or one item); or
    those whose shortcut starts with `prefix`, in shortcut order."""
    table, ws = settings.workspaces_table, caller.workspace_id
    if shortcut is not None:
        try:
            key = valid_shortcut(shortcut)
        except ValueError:  # no canned response can have it
            return Page(items=[], next_cursor=None)
        found = team.find_by_key(table, team.CANNED, ws, key)
        return Page(items=[_canned_out(found)] if found else [], next_cursor=None)
    if prefix is not None:
        items, next_cursor = team.page_by_key_prefix(
            table, team.CANNED, ws, prefix.removeprefix("/").lower(), limit, cursor
        )
    else:
        items, next_cursor = team.page(table, ws, team.CANNED_PREFIX, limit, cursor)
    return Page(items=[_canned_out(i) for i in items], next_cursor=next_cursor)


def create_canned(
    settings: AgentRoutingSettings, caller: DashboardCaller, body: CannedCreate
) -> CannedOut:
    item = _new_object(team.CANNED, caller.workspace_id, "canned", body.model_dump())
    team.create_object(settings.workspaces_table, team.CANNED, item)
    return _canned_out(item)


def get_canned(
    settings: AgentRoutingSettings, caller: DashboardCaller, canned_id: str
) -> CannedOut:
    _valid_id(CANNED_ID, canned_id, "Canned response")
    return _canned_out(
        _read_object(settings, team.CANNED, caller.workspace_id, canned_id, "Canned response")
    )


def update_canned(
    settings: AgentRoutingSettings, caller: DashboardCaller, canned_id: str, body: CannedUpdate
) -> CannedOut:
    _valid_id(CANNED_ID, canned_id, "Canned response")
    item = _change_object(
        settings, team.CANNED, caller.workspace_id, canned_id, "Canned response", body.given()
    )
    return _canned_out(item)


def delete_canned(settings: AgentRoutingSettings, caller: DashboardCaller, canned_id: str) -> None:
    _valid_id(CANNED_ID, canned_id, "Canned response")
    _delete_object(settings, team.CANNED, caller.workspace_id, canned_id, "Canned response")
