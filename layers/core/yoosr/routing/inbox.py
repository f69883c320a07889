"""Inbox use cases for the dashboard: list, read, reply, note, assign, transfer, resolve,
reopen, labels. Each takes the settings, the authenticated caller and a validated body and
returns a response model; the agent_routing inbox routes only adapt HTTP to these calls.

A conversation is addressed by (caller's workspace, id): another workspace's id is simply not
found (404), for agents and admins alike. Agents may act on any conversation of their
workspace.
"""

from __future__ import annotations

import re
from typing import Any

from yoosr import clock, ids
from yoosr.dashboard.access import DashboardCaller
from yoosr.domain.text import preview
from yoosr.errors import (
    BadRequest,
    ConditionFailed,
    Conflict,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from yoosr.models.common import Page
from yoosr.models.inbox import (
    AssignIn,
    ConversationDetail,
    InboxConversation,
    InboxMessage,
    LabelsIn,
    ReplyIn,
    VisitorInfo,
)
from yoosr.models.routing import ConversationState
from yoosr.observability import count, logger
from yoosr.routing import dispatcher, handoff, notices, transitions, waiting
from yoosr.routing.apply import apply_transition
from yoosr.settings import AgentRoutingSettings
from yoosr.store import assignment, conversations, inbox
from yoosr.store.assignment import Extras, Tables, TransitionRefused

USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
NOTE_ID = ids.id_pattern("note")

Item = dict[str, Any]


def _tables(settings: AgentRoutingSettings) -> Tables:
    return dispatcher.tables_of(settings)


def _conversation_id(value: str) -> str:
    if not ids.CONVERSATION_ID.match(value):
        raise NotFound("Conversation not found.")
    return value


def _read(settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str) -> Item:
    item = conversations.get(
        settings.conversations_table, caller.workspace_id, _conversation_id(conversation_id)
    )
    if item is None:
        raise NotFound("Conversation not found.")
    return item


def _summary(item: Item, queue_position: int | None = None) -> InboxConversation:
    return InboxConversation(
        id=item["conversation_id"],
        status=item["status"],
        owner=item["owner"],
        department_id=item.get("department_id"),
        assignee_id=item.get("assignee_id"),
        last_assignee_id=item.get("last_assignee_id"),
        queue_position=queue_position,
        visitor_id=item["visitor_id"],
        labels=sorted(item.get("labels") or ()),
        created_at=item["created_at"],
        last_activity_at=item["last_activity_at"],
        last_message_preview=item.get("last_message_preview"),
        last_message_sender=item.get("last_message_sender"),
        message_count=int(item.get("message_count", 0)),
        unread_by_agents=int(item.get("unread_by_agents", 0)),
        handed_off_at=item.get("handed_off_at"),
        assigned_at=item.get("assigned_at"),
        first_response_at=item.get("first_response_at"),
        first_response_due_at=item.get("first_response_due_at"),
        first_response_overdue=bool(item.get("first_response_overdue", False)),
        resolved_at=item.get("resolved_at"),
        resolved_by=item.get("resolved_by"),
    )


def _with_position(
    settings: AgentRoutingSettings, caller: DashboardCaller, item: Item
) -> InboxConversation:
    return _summary(item, waiting.queue_position(_tables(settings), caller.workspace_id, item))


def _visitor(item: Item | None) -> VisitorInfo | None:
    if item is None:
        return None
    device = item.get("device")
    return VisitorInfo(
        visitor_id=item["visitor_id"],
        name=item.get("name"),
        email=item.get("email"),
        phone=item.get("phone"),
        identity_verified=bool(item.get("identity_verified", False)),
        restricted=bool(item.get("restricted", False)),
        device={k: (None if v is None else str(v)) for k, v in device.items()}
        if isinstance(device, dict)
        else None,
        created_at=item.get("created_at"),
        last_seen_at=item.get("last_seen_at"),
    )


def _message_out(item: Item) -> InboxMessage:
    is_note = item.get("item_type") == "note"
    return InboxMessage(
        id=item["note_id"] if is_note else item["message_id"],
        conversation_id=item["conversation_id"],
        sender_type=item["sender_type"],
        text=item["text"],
        private=is_note,
        created_at=item["created_at"],
        agent_id=item.get("agent_id"),
        client_message_id=item.get("client_message_id"),
        buttons=item.get("buttons"),
    )


def _dispatch_after(settings: AgentRoutingSettings, ws: str, department_ids: list[str]) -> None:
    """Capacity freed or a queue grew: assign now. Best effort: the change is stored, and the
    queue-entry stream event and the sweep catch up with anything this misses."""
    try:
        dispatcher.dispatch_workspace(settings, ws, department_ids)
    except Unavailable:
        logger.warning("dispatch after an inbox action hit contention; the sweep will catch up")
    except Exception:  # the action itself succeeded: never turn it into an error
        logger.exception("dispatch after an inbox action failed; the sweep will catch up")
        count("DispatchFailures")


def _sla_due(
    settings: AgentRoutingSettings, caller: DashboardCaller, department_id: str | None
) -> str:
    department = (
        assignment.department(settings.workspaces_table, caller.workspace_id, department_id)
        if department_id
        else None
    )
    seconds = notices.first_response_sla_seconds(
        department, caller.workspace.settings.first_response_sla_seconds
    )
    return notices.due_at(clock.now(), seconds)


# ---------------------------------------------------------------- reads


def list_conversations(
    settings: AgentRoutingSettings,
    caller: DashboardCaller,
    *,
    status: str,
    department_id: str | None,
    assignee: str | None,
    owner: str | None,
    label: str | None,
    limit: int,
    cursor: str | None,
) -> Page[InboxConversation]:
    if assignee == "me":
        assignee = caller.user_id
    elif (
        assignee is not None
        and assignee != conversations.UNASSIGNED
        and not USER_ID.match(assignee)
    ):
        raise BadRequest("`assignee` must be me, unassigned or a user id.", code="invalid_query")
    items, next_cursor = inbox.list_conversations(
        settings.conversations_table,
        caller.workspace_id,
        inbox.InboxFilter(status, department_id, assignee, owner, label),
        limit,
        cursor,
    )
    return Page[InboxConversation](items=[_summary(i) for i in items], next_cursor=next_cursor)


def get_conversation(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str
) -> ConversationDetail:
    item = _read(settings, caller, conversation_id)
    visitor = inbox.get_visitor(settings.visitors_table, caller.workspace_id, item["visitor_id"])
    department = (
        assignment.department(settings.workspaces_table, caller.workspace_id, item["department_id"])
        if item.get("department_id")
        else None
    )
    hours = waiting.hours_for(caller.workspace.settings.business_hours, department)
    available = notices.availability(hours, clock.now(), agents_online=True)
    return ConversationDetail(
        **_with_position(settings, caller, item).model_dump(),
        visitor=_visitor(visitor),
        inside_business_hours=available.inside_business_hours,
        next_open_at=available.next_open_iso,
    )


def list_messages(
    settings: AgentRoutingSettings,
    caller: DashboardCaller,
    conversation_id: str,
    after: str | None,
    limit: int,
) -> Page[InboxMessage]:
    item = _read(settings, caller, conversation_id)
    if after is not None and not (ids.MESSAGE_ID.match(after) or NOTE_ID.match(after)):
        raise BadRequest("`after` must be a message or note id.", code="invalid_cursor")
    items, more = inbox.list_messages(
        settings.conversations_table, caller.workspace_id, item["conversation_id"], after, limit
    )
    out = [_message_out(i) for i in items]
    return Page[InboxMessage](items=out, next_cursor=out[-1].id if more and out else None)


# ---------------------------------------------------------------- replies and notes


def _replayed(settings: AgentRoutingSettings, old_marker: Item | None, digest: str) -> InboxMessage:
    if old_marker is None or not old_marker.get("message_sk"):
        raise Conflict("This client_message_id was already used.", code="client_message_id_reused")
    if old_marker.get("text_digest") != digest:
        raise Conflict(
            "This client_message_id was already used for a different message.",
            code="client_message_id_reused",
        )
    existing = inbox.get_item(
        settings.conversations_table, old_marker["pk"], old_marker["message_sk"]
    )
    if existing is None:
        raise Conflict("This client_message_id was already used.", code="client_message_id_reused")
    return _message_out(existing)


def post_message(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str, body: ReplyIn
) -> tuple[InboxMessage, bool]:
    """A reply (the visitor sees it) or a private note. Replying to a conversation nobody
    holds takes it over: the replying agent becomes its assignee."""
    item = _read(settings, caller, conversation_id)
    ws = caller.workspace_id
    digest = ids.digest(body.text)
    now = clock.iso()
    if body.private:
        written = inbox.note_item(
            ws,
            item["conversation_id"],
            ids.new_id("note"),
            caller.user_id,
            body.text,
            item.get("expires_at"),
        )
    else:
        written = conversations.message_item(
            ws,
            item["conversation_id"],
            ids.new_id("msg"),
            "agent",
            body.text,
            now,
            item.get("expires_at"),
            {"agent_id": caller.user_id, "client_message_id": body.client_message_id},
        )
    id_field = "note_id" if body.private else "message_id"
    puts = [written]
    if body.client_message_id:
        puts.insert(0, inbox.client_marker(written, body.client_message_id, digest, id_field))
    due = _sla_due(settings, caller, item.get("department_id"))

    def decide(before: ConversationState, _: Item) -> ConversationState:
        if body.private or before.status != "open":
            return before
        after = before
        if before.assignee_id is None:
            after = transitions.assign(before, caller.user_id, now, due)
        return transitions.first_response(after, now)

    def extras(before: ConversationState, after: ConversationState, _: Item) -> Extras:
        if body.private:
            return Extras(adds={"note_count": 1}, puts=puts)
        return Extras(
            sets={
                "last_activity_at": now,
                "last_message_preview": preview(body.text),
                "last_message_sender": "agent",
                "unread_by_agents": 0,
            },
            adds={"message_count": 1},
            puts=puts,
        )

    try:
        applied = apply_transition(
            _tables(settings), ws, item["conversation_id"], decide, item=item, extras=extras
        )
    except TransitionRefused as refused:
        if body.client_message_id and 0 in refused.extra_failed:
            return _replayed(settings, refused.extra_failed[0], digest), False
        raise
    count("NotesAdded" if body.private else "AgentReplies")
    if applied.before.assignee_id is None and applied.after.assignee_id is not None:
        logger.info("taken over by reply", extra={"conversation_id": item["conversation_id"]})
    return _message_out(written), True


# ---------------------------------------------------------------- routing actions


def assign(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str, body: AssignIn
) -> InboxConversation:
    """{agent_id}: give it to that agent (no capacity check: a person decided). {department_id}:
    transfer it to that department's queue, where it is dispatched."""
    tables = _tables(settings)
    ws = caller.workspace_id
    item = _read(settings, caller, conversation_id)
    now = clock.iso()
    if body.agent_id is not None:
        agent_id = body.agent_id
        if assignment.agent(settings.workspaces_table, ws, agent_id) is None:
            raise ValidationFailed(
                details=[
                    {
                        "field": "agent_id",
                        "message": f"unknown agent {agent_id}",
                        "type": "unknown_agent",
                    }
                ]
            )
        due = _sla_due(settings, caller, item.get("department_id"))
        applied = apply_transition(
            tables,
            ws,
            item["conversation_id"],
            lambda before, _: transitions.assign(before, agent_id, now, due),
            item=item,
        )
    else:
        department_id = body.department_id
        assert department_id is not None
        if assignment.department(settings.workspaces_table, ws, department_id) is None:
            raise handoff.unknown_department(department_id)
        due = _sla_due(settings, caller, department_id)
        arrival = ids.ulid()
        applied = apply_transition(
            tables,
            ws,
            item["conversation_id"],
            lambda before, _: transitions.transfer(before, department_id, arrival, now, due),
            item=item,
        )
    _after_release(settings, caller, applied.before, applied.after)
    count("ConversationsAssignedManually" if body.agent_id else "ConversationsTransferred")
    return _with_position(settings, caller, applied.item)


def _after_release(
    settings: AgentRoutingSettings,
    caller: DashboardCaller,
    before: ConversationState,
    after: ConversationState,
) -> None:
    """A released agent has a free slot, a grown queue may be served: dispatch both."""
    departments: list[str] = []
    if before.holder is not None and before.holder != after.holder:
        released = assignment.agent(settings.workspaces_table, caller.workspace_id, before.holder)
        departments += list((released or {}).get("departments") or [])
    if after.waiting and after.department_id:
        departments.append(after.department_id)
    if before != after and (departments or before.holder or after.waiting):
        _dispatch_after(settings, caller.workspace_id, departments)


def resolve(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str
) -> InboxConversation:
    item = _read(settings, caller, conversation_id)
    now = clock.iso()
    applied = apply_transition(
        _tables(settings),
        caller.workspace_id,
        item["conversation_id"],
        lambda before, _: transitions.resolve(before, caller.user_id, now),
        item=item,
    )
    if applied.changed:
        count("ConversationsResolved")
    _after_release(settings, caller, applied.before, applied.after)
    return _summary(applied.item)


def reopen(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str
) -> InboxConversation:
    item = _read(settings, caller, conversation_id)
    now = clock.iso()
    applied = apply_transition(
        _tables(settings),
        caller.workspace_id,
        item["conversation_id"],
        lambda before, _: transitions.reopen(before, caller.user_id, now),
        item=item,
    )
    if applied.changed:
        count("ConversationsReopened")
    return _summary(applied.item)


def change_labels(
    settings: AgentRoutingSettings, caller: DashboardCaller, conversation_id: str, body: LabelsIn
) -> InboxConversation:
    item = _read(settings, caller, conversation_id)
    ws = caller.workspace_id
    if body.add:
        known = {
            found["label_id"]
            for found in assignment.labels(settings.workspaces_table, ws, body.add)
        }
        unknown = [label for label in body.add if label not in known]
        if unknown:
            raise ValidationFailed(
                details=[
                    {"field": "add", "message": f"unknown label {label}", "type": "unknown_label"}
                    for label in unknown
                ]
            )
    try:
        updated = inbox.change_labels(
            settings.conversations_table, ws, item["conversation_id"], body.add, body.remove
        )
    except ConditionFailed as error:
        raise NotFound("Conversation not found.") from error
    # ALL_NEW is the whole item (without `labels` once the last one is removed).
    return _summary(updated or item)
