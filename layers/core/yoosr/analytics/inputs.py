"""What the conversation item must carry so one stream record is enough to count a metric.

A stream record holds one item's old and new image, nothing else. Some metrics need a little
history the routing state does not keep (has a human written yet? when did this cycle start?
has this cycle had its first reply?), so the writers keep it on the conversation item, in the
same update that changes the state. The helpers here say exactly what to write; the writers
(widget ingest, bot reply, routing transitions, replies) turn a `Patch` into SET / ADD / REMOVE
(`store.assignment.Extras` has the same three parts). docs/metrics.md lists the attributes.

A cycle starts when the conversation starts, when humans take over from the bot (a handoff,
an assignment, an agent's reply to a bot conversation) and when a resolved conversation opens
again (an agent's reopen or a visitor writing into it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from yoosr.models.routing import ConversationState

CHANNEL = "channel"
BOT_MESSAGE_COUNT = "bot_message_count"
HUMAN_MESSAGE_COUNT = "human_message_count"
CYCLE = "cycle"
CYCLE_STARTED_AT = "cycle_started_at"
CYCLE_FIRST_RESPONSE_AT = "cycle_first_response_at"
CYCLE_FIRST_RESPONSE_BY = "cycle_first_response_by"
CYCLE_AGENTS = "cycle_agents"
CSAT_OFFERED_AT = "csat_offered_at"
CSAT_AT = "csat_at"

DEFAULT_CHANNEL = "widget"

MessageKind = Literal["bot", "agent"]


@dataclass(frozen=True)
class Patch:
    """Attribute changes on the conversation item, in the write that changes its state."""

    sets: dict[str, Any] = field(default_factory=dict)
    adds: dict[str, Any] = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)
    # Attributes that must still be absent when the write lands: a cycle's first reply is
    # decided from a read, and a concurrent reply must not overwrite it.
    absent: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sets or self.adds or self.removes)

    def applied_to(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The item after this patch (DynamoDB semantics: ADD to a missing number starts at 0,
        ADD to a missing string set creates it)."""
        result = {**item, **self.sets}
        for name in self.removes:
            result.pop(name, None)
        for name, value in self.adds.items():
            if isinstance(value, set):
                result[name] = set(result.get(name) or set()) | value
            else:
                result[name] = result.get(name, 0) + value
        return result


def initial(created_at: str, channel: str = DEFAULT_CHANNEL) -> dict[str, Any]:
    """Attributes of a new conversation item (cycle 0 starts with it)."""
    return {
        CHANNEL: channel,
        CYCLE: 0,
        CYCLE_STARTED_AT: created_at,
        BOT_MESSAGE_COUNT: 0,
        HUMAN_MESSAGE_COUNT: 0,
    }


def starts_cycle(before: ConversationState, after: ConversationState) -> bool:
    """Humans take over from the bot, or a resolved conversation opens again."""
    handed_off = before.owner == "bot" and after.owner == "human"
    reopened = before.status == "resolved" and after.status == "open"
    return handed_off or reopened


def patch(
    item: Mapping[str, Any],
    after: ConversationState,
    now: str,
    *,
    message: MessageKind | None = None,
    agent_id: str | None = None,
    offer_rating: bool = False,
) -> Patch:
    """The analytics attributes to write with a transition from `item` to `after`.

    `message`: the write also adds a public bot or agent message (never a private note).
    `agent_id`: the agent who wrote it. `offer_rating`: this write resolves the conversation and
    the visitor is asked for a rating (only the first offer counts; later ones change nothing).
    """
    before = ConversationState.of(item)
    sets: dict[str, Any] = {}
    adds: dict[str, Any] = {}
    removes: list[str] = []
    absent: tuple[str, ...] = ()
    new_cycle = starts_cycle(before, after)
    if new_cycle:
        sets[CYCLE] = int(item.get(CYCLE) or 0) + 1
        sets[CYCLE_STARTED_AT] = now
        removes += [CYCLE_FIRST_RESPONSE_AT, CYCLE_FIRST_RESPONSE_BY, CYCLE_AGENTS]
    if message == "bot":
        adds[BOT_MESSAGE_COUNT] = 1
    elif message == "agent":
        if agent_id is None:
            raise ValueError("an agent message needs its agent_id")
        adds[HUMAN_MESSAGE_COUNT] = 1
        # A reply to a resolved conversation (without reopening it) answers no cycle.
        first = new_cycle or item.get(CYCLE_FIRST_RESPONSE_AT) is None
        if first and after.status == "open":
            sets[CYCLE_FIRST_RESPONSE_AT] = now
            sets[CYCLE_FIRST_RESPONSE_BY] = agent_id
            if not new_cycle:
                absent = (CYCLE_FIRST_RESPONSE_AT,)
        if new_cycle:
            # One expression cannot REMOVE and ADD the same attribute: start the set anew.
            sets[CYCLE_AGENTS] = {agent_id}
        else:
            adds[CYCLE_AGENTS] = {agent_id}
        removes = [name for name in removes if name not in sets]
    resolves = before.status == "open" and after.status == "resolved"
    if offer_rating and resolves and item.get(CSAT_OFFERED_AT) is None:
        sets[CSAT_OFFERED_AT] = now
    return Patch(sets, adds, removes, absent)


def moment(
    before: ConversationState,
    after: ConversationState,
    now: str,
    messages: Sequence[Mapping[str, Any]] = (),
) -> str:
    """When a write happened, as the item tells it: the time the transition stamped on the
    state (handoff, assignment, resolve), else the first message written with it, else `now`.
    A replay of stored conversations finds the same moment from the same items."""
    for name in ("handed_off_at", "assigned_at", "resolved_at"):
        value = getattr(after, name)
        if value and value != getattr(before, name):
            return str(value)
    for message in messages:
        if message.get("created_at"):
            return str(message["created_at"])
    return now


def for_write(
    item: Mapping[str, Any],
    after: ConversationState,
    now: str,
    written: Sequence[Mapping[str, Any]] = (),
) -> Patch:
    """`patch` for one write: the transition from the state stored on `item` to `after`,
    together with the items `written` in the same transaction. Public bot and agent messages
    among them count (system messages and private notes never do); an agent's reply is timed
    by its message; every resolve offers the rating (only the first offer counts)."""
    before = ConversationState.of(item)
    messages = [w for w in written if w.get("item_type") == "message"]
    bots = sum(1 for m in messages if m.get("sender_type") == "bot")
    agent = next((m for m in messages if m.get("sender_type") == "agent"), None)
    if agent is not None:
        return patch(
            item,
            after,
            str(agent.get("created_at") or now),
            message="agent",
            agent_id=str(agent["agent_id"]),
            offer_rating=True,
        )
    result = patch(
        item,
        after,
        moment(before, after, now, messages),
        message="bot" if bots else None,
        offer_rating=True,
    )
    if bots > 1:
        result.adds[BOT_MESSAGE_COUNT] = bots
    return result
