"""A stored conversation's stream, rebuilt: the changes its writers made, in order, as the
Conversations stream delivered them (for the backfill). Pure.

What is stored is enough: the conversation item (identity, channel, rating), its messages
(every one, with sender, agent and the bot's `ai` map), and one `transition` item per routing
transition (the state before and after, the moment and the messages written with it). From
the conversation's start, each write is applied again the way the writers apply it
(`inputs.for_write` for the analytics attributes), giving the same old and new images, hence
the same increments, with today's formulas. A message written without a transition is a
write of its own, and so is the visitor's rating (at its `csat_at`).

Conversations written before writers kept cycles (no `cycle` attribute) have no transition
records either: they come back as their start and one change to what is stored now, which
`events` counts with its fallbacks (exact for the first cycle only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from yoosr.analytics import inputs
from yoosr.analytics.events import StreamChange
from yoosr.models.routing import ConversationState

Item = dict[str, Any]
_STATE = [field.name for field in fields(ConversationState)]
_IDENTITY = ("pk", "sk", "item_type", "workspace_id", "conversation_id", "visitor_id", "created_at")


def _when(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state_of(stored: Mapping[str, Any]) -> ConversationState:
    """A state as a transition item stores it (asdict of ConversationState)."""
    return ConversationState(**{name: stored[name] for name in _STATE if name in stored})


def with_state(image: Mapping[str, Any], state: ConversationState) -> Item:
    """The conversation image carrying `state` (the queue slot as `queue_sk`)."""
    result = dict(image)
    for name in _STATE:
        if name != "queued":
            result[name] = getattr(state, name)
    if state.queued and state.arrival_id:
        result["queue_sk"] = state.arrival_id
    else:
        result.pop("queue_sk", None)
    return result


class _Replay:
    def __init__(self, conversation: Mapping[str, Any], start: ConversationState) -> None:
        created_at = str(conversation["created_at"])
        identity = {name: conversation[name] for name in _IDENTITY if name in conversation}
        image = {**identity, "last_activity_at": created_at, "csat_rating": None}
        image.update(inputs.initial(created_at, str(conversation.get(inputs.CHANNEL) or "widget")))
        self.image = with_state(image, start)
        self.changes = [StreamChange("INSERT", None, dict(self.image), _when(created_at))]

    def _modify(self, new: Item, at: str) -> None:
        self.changes.append(StreamChange("MODIFY", self.image, new, _when(at)))
        self.image = new

    def _insert(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for message in messages:
            change = StreamChange("INSERT", None, dict(message), _when(message["created_at"]))
            self.changes.append(change)

    def message(self, message: Mapping[str, Any]) -> None:
        """A message written on its own (no routing transition with it)."""
        self._insert([message])
        at = str(message["created_at"])
        if message.get("sender_type") not in ("bot", "agent"):
            self.image = {**self.image, "last_activity_at": at}
            return  # the conversation's activity fields change; nothing analytics reads
        state = ConversationState.of(self.image)
        patch = inputs.for_write(self.image, state, at, [message])
        self._modify(patch.applied_to({**self.image, "last_activity_at": at}), at)

    def transition(self, record: Mapping[str, Any], written: list[Mapping[str, Any]]) -> None:
        self._insert(written)
        at = str(record["at"])
        # The image as the write found it: the stored `before` is what its guard checked.
        self.image = with_state(self.image, state_of(record["before"]))
        after = state_of(record["after"])
        patch = inputs.for_write(self.image, after, at, written)
        new = with_state(self.image, after)
        if written:
            new["last_activity_at"] = str(written[-1]["created_at"])
        self._modify(patch.applied_to(new), at)

    def rating(self, rating: Any, at: str) -> None:
        self._modify({**self.image, "csat_rating": rating, inputs.CSAT_AT: at}, at)


def _legacy(conversation: Mapping[str, Any], messages: list[Item]) -> list[StreamChange]:
    created_at = str(conversation["created_at"])
    start = {name: conversation[name] for name in _IDENTITY if name in conversation}
    start.update(status="open", owner="bot", last_activity_at=created_at, csat_rating=None)
    changes = [StreamChange("INSERT", None, start, _when(created_at))]
    changes += [StreamChange("INSERT", None, m, _when(m["created_at"])) for m in messages]
    now = dict(conversation)
    now.setdefault(
        inputs.BOT_MESSAGE_COUNT, sum(1 for m in messages if m.get("sender_type") == "bot")
    )
    now.setdefault(
        inputs.HUMAN_MESSAGE_COUNT, sum(1 for m in messages if m.get("sender_type") == "agent")
    )
    changes.append(
        StreamChange("MODIFY", start, now, _when(now.get("last_activity_at") or created_at))
    )
    return changes


def _chained(transitions: list[Item], state: ConversationState) -> list[Item]:
    """Transitions stamped with the same moment, in the order their states chain (each one's
    `before` is the previous one's `after`): ids made in one millisecond do not sort."""
    pending, ordered = list(transitions), []
    while pending:
        following = next((t for t in pending if state_of(t["before"]) == state), pending[0])
        pending.remove(following)
        ordered.append(following)
        state = state_of(following["after"])
    return ordered


def replay(
    conversation: Mapping[str, Any], partition: Iterable[Mapping[str, Any]]
) -> list[StreamChange]:
    """The changes that made `conversation`, from the items of its partition (messages,
    transitions; other items are ignored), in the order they happened."""
    items = [dict(item) for item in partition]
    messages = {str(m["message_id"]): m for m in items if m.get("item_type") == "message"}
    ordered = sorted(messages.values(), key=lambda m: (str(m["created_at"]), str(m["sk"])))
    if conversation.get(inputs.CYCLE) is None:
        return _legacy(conversation, ordered)
    transitions = [t for t in items if t.get("item_type") == "transition"]
    transitions.sort(key=lambda t: str(t["sk"]))
    start = (
        state_of(transitions[0]["before"]) if transitions else ConversationState.of(conversation)
    )
    replay = _Replay(conversation, start)
    grouped = {str(mid) for t in transitions for mid in t.get("message_ids") or ()}
    # (moment, then: messages, transitions, the rating) → what was written
    moments: dict[str, tuple[list[Item], list[Item], bool]] = {}
    for message in ordered:
        if message["message_id"] not in grouped:
            moments.setdefault(str(message["created_at"]), ([], [], False))[0].append(message)
    for transition in transitions:
        moments.setdefault(str(transition["at"]), ([], [], False))[1].append(transition)
    rating = conversation.get("csat_rating")
    rated_at = str(conversation.get(inputs.CSAT_AT) or "~")  # unknown: after everything
    if rating is not None:
        alone, moved, _ = moments.get(rated_at, ([], [], False))
        moments[rated_at] = (alone, moved, True)
    for moment in sorted(moments):
        alone, moved, rated = moments[moment]
        for message in alone:
            replay.message(message)
        for transition in _chained(moved, ConversationState.of(replay.image)):
            ids = [str(mid) for mid in transition.get("message_ids") or ()]
            replay.transition(transition, [messages[mid] for mid in ids if mid in messages])
        if rated:
            replay.rating(rating, rated_at if rated_at != "~" else replay.image["last_activity_at"])
    return replay.changes
