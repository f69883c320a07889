"""Handoff: humans take a conversation over from the bot.

One transaction moves the conversation to `owner = human` and puts its queue entry, so a
handoff is never recorded without its place in line (and vice versa). The entry's insert on
the Conversations stream wakes the dispatcher (AgentRoutingEventsFunction); the widget, the
bot or any other writer therefore needs no permission on agents. A writer that only flips
`owner` to human is repaired by the same consumer, which queues the conversation here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yoosr import clock, ids
from yoosr.errors import ValidationFailed
from yoosr.models.routing import ConversationState
from yoosr.observability import count, logger
from yoosr.routing import notices, transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import assignment
from yoosr.store.assignment import Tables

Item = dict[str, Any]


@dataclass(frozen=True)
class Handoff:
    conversation: Item
    handed_off: bool


def unknown_department(department_id: str) -> ValidationFailed:
    return ValidationFailed(
        details=[
            {
                "field": "department_id",
                "message": f"unknown department {department_id}",
                "type": "unknown_department",
            }
        ]
    )


def target_department(
    tables: Tables, ws: str, requested: str | None, current: str | None
) -> Item | None:
    """The department asked for, else the one the conversation already has, else the
    workspace's first; None when the workspace has no department (workspace-wide queue)."""
    if requested is not None:
        found = assignment.department(tables.workspaces, ws, requested)
        if found is None:
            raise unknown_department(requested)
        return found
    if current is not None:
        found = assignment.department(tables.workspaces, ws, current)
        if found is not None:
            return found
    return assignment.first_department(tables.workspaces, ws)


@dataclass(frozen=True)
class Target:
    department_id: str | None
    first_response_due_at: str


def handoff_target(
    tables: Tables,
    ws: str,
    requested: str | None,
    current: str | None,
    workspace_sla_seconds: int | None,
    now: datetime,
) -> Target:
    """Where a handoff goes and when its first human reply is due."""
    department = target_department(tables, ws, requested, current)
    return Target(
        department["department_id"] if department else None,
        notices.due_at(now, notices.first_response_sla_seconds(department, workspace_sla_seconds)),
    )


def request_human(
    tables: Tables,
    ws: str,
    conversation: Item,
    department_id: str | None,
    workspace_sla_seconds: int | None,
    requested_by: str,
) -> Handoff:
    """Queue the conversation for a human (idempotent: already queued or held → unchanged)."""
    state = ConversationState.of(conversation)
    if state.owner == "human" and not state.needs_routing:
        return Handoff(conversation, False)
    now: datetime = clock.now()
    target = handoff_target(
        tables, ws, department_id, state.department_id, workspace_sla_seconds, now
    )
    arrival = ids.ulid()

    def decide(before: ConversationState, _: Item) -> ConversationState:
        return transitions.hand_off(
            before, target.department_id, arrival, clock.iso(now), target.first_response_due_at
        )

    applied = apply_transition(
        tables, ws, conversation["conversation_id"], decide, item=conversation
    )
    if applied.changed:
        count("Handoffs")
        logger.info(
            "handed off",
            extra={
                "workspace_id": ws,
                "conversation_id": conversation["conversation_id"],
                "department_id": target.department_id,
                "requested_by": requested_by,
            },
        )
    return Handoff(applied.item, applied.changed)
