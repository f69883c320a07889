"""Read a conversation, decide its next routing state, write it guarded by what was read, and
read again when someone else changed it first (optimistic concurrency).

Every write through here also keeps the analytics inputs on the conversation item (cycle,
message counts, a cycle's first reply, the rating offer: docs/metrics.md), computed from the
item as read, the new state and the messages written with it, in the same update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from yoosr import clock
from yoosr.analytics import inputs
from yoosr.errors import Conflict, NotFound
from yoosr.models.routing import ConversationState
from yoosr.observability import count, logger
from yoosr.store import assignment, conversations
from yoosr.store.assignment import Extras, Tables, TransitionRefused

ATTEMPTS = 4

Item = dict[str, Any]
Decide = Callable[[ConversationState, Item], ConversationState]
MakeExtras = Callable[[ConversationState, ConversationState, Item], Extras | None]


@dataclass(frozen=True)
class Applied:
    item: Item
    changed: bool
    before: ConversationState
    after: ConversationState


def _merged(item: Item, sets: dict[str, Any], removes: list[str], extras: Extras | None) -> Item:
    merged = {**item, **sets}
    for name in removes:
        merged.pop(name, None)
    for name, value in (extras.adds if extras else {}).items():
        if isinstance(value, int | float):
            merged[name] = merged.get(name, 0) + value
        elif isinstance(value, set):
            merged[name] = set(merged.get(name) or ()) | value
    return merged


Condition = tuple[str, dict[str, str], dict[str, Any]]


def _both(first: Condition | None, second: Condition | None) -> Condition | None:
    if first is None or second is None:
        return first or second
    return f"({first[0]}) AND ({second[0]})", {**first[1], **second[1]}, {**first[2], **second[2]}


def _with_analytics(
    item: Item, after: ConversationState, now: str, more: Extras | None
) -> Extras | None:
    patch = inputs.for_write(item, after, now, more.puts if more else ())
    if not patch:
        return more
    base = more or Extras()
    absent: Condition | None = None
    if patch.absent:
        names = {f"#an{i}": name for i, name in enumerate(patch.absent)}
        absent = " AND ".join(f"attribute_not_exists({n})" for n in names), names, {}
    return replace(
        base,
        sets={**base.sets, **patch.sets},
        adds={**base.adds, **patch.adds},
        removes=[*base.removes, *patch.removes],
        condition=_both(base.condition, absent),
    )


def apply_transition(
    tables: Tables,
    ws: str,
    conversation_id: str,
    decide: Decide,
    *,
    item: Item | None = None,
    extras: MakeExtras | None = None,
) -> Applied:
    """Raises NotFound when the conversation does not exist (or expired), the decision's own
    errors (Conflict …), and TransitionRefused when an extra item already existed (a replay
    the caller recognises)."""
    release = True
    for _ in range(ATTEMPTS):
        if item is None:
            item = conversations.get(tables.conversations, ws, conversation_id)
            if item is None:
                raise NotFound("Conversation not found.")
        before = ConversationState.of(item)
        after = decide(before, item)
        more = extras(before, after, item) if extras else None
        if after == before and more is None:
            return Applied(item, False, before, after)
        now = clock.iso()
        more = _with_analytics(item, after, now, more)
        try:
            sets, removes = assignment.write(
                tables,
                ws,
                conversation_id,
                before,
                after,
                now=now,
                expires_at=item.get("expires_at"),
                release=release,
                extras=more,
            )
        except TransitionRefused as refused:
            if refused.extra_failed:
                raise
            if refused.gain_refused is not None and not refused.stale:
                raise NotFound("Agent not found.") from refused
            if refused.release_refused is not None and not refused.stale:
                # The agent losing the conversation is gone or already at zero: there is no
                # count left to move. Worth a metric: it means the load drifted somewhere.
                logger.warning("agent load release refused", extra={"workspace_id": ws})
                count("AgentLoadDrift")
                release = False
            item = None
            continue
        return Applied(_merged(item, sets, removes, more), True, before, after)
    raise Conflict(
        "Someone else changed this conversation at the same time; retry.", code="concurrent_update"
    )
