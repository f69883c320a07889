"""What a waiting visitor can know: place in line, whether the team is inside business hours,
and the system message telling them when to expect an answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from yoosr import clock, ids
from yoosr.domain.text import preview
from yoosr.models.routing import ConversationState
from yoosr.models.workspace import BusinessHours, WorkspaceSettings
from yoosr.observability import count
from yoosr.routing import notices
from yoosr.routing.apply import apply_transition
from yoosr.routing.strategy import Candidate
from yoosr.store import assignment, conversations
from yoosr.store.assignment import Extras, Tables, TransitionRefused

NOTICE_PREFIX = "NOTICE#"

Item = dict[str, Any]


def workspace_settings(item: Mapping[str, Any] | None) -> WorkspaceSettings:
    try:
        return WorkspaceSettings.model_validate((item or {}).get("settings") or {})
    except ValidationError:
        return WorkspaceSettings()


def queue_position(tables: Tables, ws: str, conversation: Mapping[str, Any]) -> int | None:
    state = ConversationState.of(conversation)
    if not state.waiting or state.arrival_id is None:
        return None
    return assignment.queue_position(tables.conversations, ws, state.queue_key, state.arrival_id)


def hours_for(
    workspace_hours: BusinessHours | None, department: Mapping[str, Any] | None
) -> BusinessHours | None:
    return notices.team_hours(workspace_hours, department)


def notify_if_waiting(tables: Tables, ws: str, entry: Mapping[str, Any]) -> bool:
    """Tell the visitor behind this queue entry when to expect an answer, once per handoff
    (a NOTICE#{arrival} marker goes in with the message). False when nothing was sent: the
    conversation was assigned meanwhile, or the notice was sent already."""
    conversation_id = str(entry["conversation_id"])
    arrival = str(entry["sk"])
    conversation = conversations.get(tables.conversations, ws, conversation_id)
    if conversation is None or conversation.get("queue_sk") != arrival:
        return False
    state = ConversationState.of(conversation)
    if not state.waiting:
        return False
    department = (
        assignment.department(tables.workspaces, ws, state.department_id)
        if state.department_id
        else None
    )
    serving = state.department_id if department is not None else None
    settings = workspace_settings(assignment.workspace(tables.workspaces, ws))
    now_epoch, now = clock.epoch(), clock.now()
    agents = [Candidate.of(a) for a in assignment.agents_of(tables.workspaces, ws)]
    online = any(a.online(now_epoch) and a.serves(serving) for a in agents)
    available = notices.availability(hours_for(settings.business_hours, department), now, online)
    position = queue_position(tables, ws, conversation)
    notice = notices.waiting_notice(available, position, now)

    def extras(before: ConversationState, after: ConversationState, item: Item) -> Extras | None:
        if not before.waiting or item.get("queue_sk") != arrival:
            return None
        message = conversations.message_item(
            ws,
            conversation_id,
            ids.new_id("msg"),
            "system",
            notice.text,
            clock.iso(),
            item.get("expires_at"),
            {"notice": notice.kind, "expected_at": notice.expected_at},
        )
        marker: Item = {
            "pk": message["pk"],
            "sk": NOTICE_PREFIX + arrival,
            "item_type": "notice_marker",
            "message_id": message["message_id"],
        }
        if "expires_at" in message:
            marker["expires_at"] = message["expires_at"]
        return Extras(
            sets={
                "last_activity_at": message["created_at"],
                "last_message_preview": preview(notice.text),
                "last_message_sender": "system",
            },
            adds={"message_count": 1},
            puts=[marker, message],
        )

    try:
        applied = apply_transition(
            tables,
            ws,
            conversation_id,
            lambda before, _: before,
            item=conversation,
            extras=extras,
        )
    except TransitionRefused:  # the marker exists: this handoff's notice went out already
        return False
    if applied.changed:
        count(f"WaitingNotice_{notice.kind}")
    return applied.changed
