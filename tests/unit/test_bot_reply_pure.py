"""The bot turn's pure parts: which stream images trigger a turn, how a burst becomes one
event, and ids that keep the order messages were said in."""

from __future__ import annotations

from typing import Any

from yoosr import clock, ids
from yoosr.bot import engine
from yoosr.bot.reply import DEFAULT_FLOW, trigger_from_image, visitor_event


def message(message_id: str, text: str, value: str | None = None) -> dict[str, Any]:
    item = {"message_id": message_id, "text": text, "sender_type": "visitor"}
    if value is not None:
        item["reply_value"] = value
    return item


def test_visitor_messages_and_empty_bot_conversations_trigger_a_turn() -> None:
    base = {"workspace_id": "ws_1", "conversation_id": "conv_1", "created_at": "t"}
    visitor = {**base, "item_type": "message", "sender_type": "visitor", "message_id": "msg_2"}
    assert trigger_from_image(visitor) is not None
    assert trigger_from_image(visitor).message_id == "msg_2"  # type: ignore[union-attr]
    started = {**base, "item_type": "conversation", "owner": "bot", "message_count": 0}
    assert trigger_from_image(started).message_id is None  # type: ignore[union-attr]
    # Not the bot's business: its own messages, agents, human-owned or already started ones.
    assert trigger_from_image({**visitor, "sender_type": "bot"}) is None
    assert trigger_from_image({**visitor, "sender_type": "agent"}) is None
    assert trigger_from_image({**started, "owner": "human"}) is None
    assert trigger_from_image({**started, "message_count": 1}) is None
    assert trigger_from_image({**base, "item_type": "queue_entry"}) is None
    assert trigger_from_image(None) is None


def test_a_burst_is_one_event_and_a_tapped_reply_wins() -> None:
    burst = [message("m1", "hi"), message("m2", "shipping to Norway?")]
    assert visitor_event(burst) == engine.VisitorMessage(text="hi\nshipping to Norway?")
    tapped = [message("m1", "hello"), message("m2", "Ask a question", value="question")]
    assert visitor_event(tapped) == engine.VisitorMessage(text="Ask a question", value="question")
    assert visitor_event([]) == engine.VisitorMessage(text="")
    long = [message(f"m{i}", "x" * 1500) for i in range(4)]
    assert len(visitor_event(long).text) == 4000


def test_ids_made_together_sort_in_order_within_one_millisecond() -> None:
    clock.freeze(lambda: 1_800_000_000.123)
    try:
        made = ids.new_ids("msg", 50)
    finally:
        clock.unfreeze()
    assert made == sorted(made)
    assert len(set(made)) == 50
    assert all(ids.MESSAGE_ID.match(i) for i in made)


def test_the_default_flow_answers_and_hands_off_what_it_cannot() -> None:
    def no_answer(_: str) -> engine.NoAnswer:
        return engine.NoAnswer("no_answer")

    outcome = engine.advance(
        DEFAULT_FLOW,
        engine.FlowState(),
        engine.VisitorMessage(text="Can you change my invoice address?"),
        engine.BotContext(answer=no_answer),
    )
    (handoff,) = outcome.actions
    assert isinstance(handoff, engine.Handoff) and handoff.reason == "no_answer"

    def answered(_: str) -> engine.Answer:
        return engine.Answer("Yes.", "knowledge")

    outcome = engine.advance(
        DEFAULT_FLOW,
        engine.FlowState(),
        engine.VisitorMessage(text="Do you ship to Norway?"),
        engine.BotContext(answer=answered),
    )
    assert outcome.actions == (engine.SendMessage("Yes.", source="knowledge"),)
    assert outcome.state.status == "running"
