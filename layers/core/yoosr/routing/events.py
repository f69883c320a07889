"""Reactions to Conversations stream records (AgentRoutingEventsFunction).

- A queue entry was inserted (a handoff, a transfer, a give-back): dispatch its queue, then
  tell the visitor when to expect an answer if nobody could take the conversation.
- A conversation is human-owned, open, unassigned and not queued (a writer handed it off
  without queueing it, or a visitor wrote into a resolved human conversation): queue it.

Both are idempotent: a redelivered record finds the work done (conditional writes, the notice
marker) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yoosr.models.routing import ConversationState
from yoosr.routing import dispatcher, handoff, waiting
from yoosr.store import assignment, conversations
from yoosr.store.assignment import QUEUE_ENTRY, Tables

Item = dict[str, Any]


def queue_of(entry: Mapping[str, Any]) -> tuple[str, str]:
    return str(entry["workspace_id"]), assignment.queue_key_of(entry.get("department_id"))


def on_queue_entry(
    tables: Tables, entry: Mapping[str, Any], dispatched: set[tuple[str, str]]
) -> None:
    """`dispatched` holds the queues this batch already dispatched after their entries were
    written: one dispatch per queue and batch is enough."""
    ws, queue_key = queue_of(entry)
    if (ws, queue_key) not in dispatched:
        dispatcher.dispatch_queue(tables, ws, queue_key)
        dispatched.add((ws, queue_key))
    waiting.notify_if_waiting(tables, ws, entry)


def on_conversation(tables: Tables, image: Mapping[str, Any]) -> bool:
    """Queue a human-owned conversation nobody queued; True when it was queued here."""
    if not ConversationState.of(image).needs_routing:
        return False
    ws = str(image["workspace_id"])
    current = conversations.get(tables.conversations, ws, str(image["conversation_id"]))
    if current is None or not ConversationState.of(current).needs_routing:
        return False
    settings = waiting.workspace_settings(assignment.workspace(tables.workspaces, ws))
    result = handoff.request_human(
        tables,
        ws,
        current,
        None,
        settings.first_response_sla_seconds,
        requested_by="stream",
    )
    return result.handed_off


def handle(
    tables: Tables, image: Mapping[str, Any] | None, dispatched: set[tuple[str, str]]
) -> str:
    """Route one record's new image; returns what it was (for logs)."""
    if not image:
        return "ignored"
    kind = image.get("item_type")
    if kind == QUEUE_ENTRY:
        on_queue_entry(tables, image, dispatched)
        return "queue_entry"
    if kind == "conversation":
        return "queued" if on_conversation(tables, image) else "conversation"
    return "ignored"
