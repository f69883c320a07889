"""How each routing action changes a conversation's state. Pure: the store writes the result
with conditions on the state it was computed from, so a concurrent change makes the write fail
(and the caller reads again) instead of being overwritten.

A function returns the state unchanged when the action has nothing to do (idempotent replays)
and raises Conflict when the action makes no sense in the current state.
"""

from __future__ import annotations

from yoosr.errors import Conflict
from yoosr.models.routing import ConversationState


def _must_be_open(state: ConversationState) -> None:
    if state.status != "open":
        raise Conflict(
            "The conversation is resolved; reopen it first.", code="conversation_resolved"
        )


def _with_deadline(state: ConversationState, due_at: str | None) -> ConversationState:
    """Start the first-response clock once, when humans first own the conversation."""
    if state.first_response_at is None and state.first_response_due_at is None and due_at:
        return state.with_(first_response_due_at=due_at)
    return state


def hand_off(
    state: ConversationState,
    department_id: str | None,
    arrival_id: str,
    now: str,
    due_at: str | None,
) -> ConversationState:
    """Humans take over from the bot: the conversation joins its department's queue.

    Also repairs a human-owned conversation that some writer left neither queued nor held.
    Already queued or held: nothing to do.
    """
    _must_be_open(state)
    if state.owner == "human" and not state.needs_routing:
        return state
    handed = state.with_(
        owner="human",
        department_id=department_id,
        queued=True,
        arrival_id=arrival_id,
        handed_off_at=now if state.owner == "bot" else (state.handed_off_at or now),
    )
    return _with_deadline(handed, due_at)


def claim(state: ConversationState, agent_id: str, now: str) -> ConversationState:
    """The dispatcher gives a waiting conversation to an agent."""
    if not state.waiting:
        raise Conflict("The conversation is not waiting.", code="not_waiting")
    return state.with_(assignee_id=agent_id, queued=False, assigned_at=now)


def assign(
    state: ConversationState, agent_id: str, now: str, due_at: str | None
) -> ConversationState:
    """Someone gives the conversation to a named agent (also an agent taking it over): out of
    any queue, humans own it. Capacity is not checked: a person decided."""
    _must_be_open(state)
    if state.assignee_id == agent_id and state.owner == "human":
        return state
    assigned = state.with_(
        owner="human",
        assignee_id=agent_id,
        queued=False,
        assigned_at=now,
        handed_off_at=state.handed_off_at or now,
    )
    return _with_deadline(assigned, due_at)


def transfer(
    state: ConversationState,
    department_id: str,
    arrival_id: str,
    now: str,
    due_at: str | None,
) -> ConversationState:
    """Move the conversation to another department's queue (releasing its agent). It keeps
    its original arrival, so a transfer never sends a visitor to the back of the line."""
    _must_be_open(state)
    if state.department_id == department_id and state.waiting:
        return state
    moved = state.with_(
        owner="human",
        department_id=department_id,
        assignee_id=None,
        queued=True,
        arrival_id=state.arrival_id or arrival_id,
        assigned_at=None,
        handed_off_at=state.handed_off_at or now,
    )
    return _with_deadline(moved, due_at)


def give_back(state: ConversationState) -> ConversationState:
    """The agent went offline: back to the queue at its original arrival."""
    if state.status != "open" or state.assignee_id is None:
        raise Conflict("The conversation is not held.", code="not_held")
    return state.with_(
        assignee_id=None,
        last_assignee_id=state.assignee_id,
        queued=True,
        assigned_at=None,
        arrival_id=state.arrival_id,
    )


def resolve(state: ConversationState, by: str, now: str) -> ConversationState:
    if state.status == "resolved":
        return state
    return state.with_(
        status="resolved",
        assignee_id=None,
        last_assignee_id=state.assignee_id or state.last_assignee_id,
        queued=False,
        assigned_at=None,
        resolved_at=now,
        resolved_by=by,
    )


def reopen(state: ConversationState, by: str, now: str) -> ConversationState:
    """An agent reopens: a human-owned conversation goes back to the agent who reopened it; a
    bot-owned one simply continues with the bot."""
    if state.status == "open":
        return state
    opened = state.with_(status="open", resolved_at=None, resolved_by=None)
    if opened.owner == "human":
        opened = opened.with_(assignee_id=by, assigned_at=now)
    return opened


def visitor_reopen(state: ConversationState) -> ConversationState:
    """A visitor writes into a resolved conversation: open again, unassigned. A human-owned one
    is then queued again by the stream consumer (it needs routing)."""
    if state.status == "open":
        return state
    return state.with_(status="open", resolved_at=None, resolved_by=None, assignee_id=None)


def first_response(state: ConversationState, now: str) -> ConversationState:
    """A human reply: the first one stops the first-response clock."""
    if state.first_response_at is not None:
        return state
    return state.with_(first_response_at=now)


def flag_overdue(state: ConversationState) -> ConversationState:
    if not state.awaiting_first_response:
        return state
    return state.with_(first_response_overdue=True)
