"""The bot's turn under moto, through the real consumer and the template's stream filters:
the demo flow (greeting, buttons, knowledge answer, collect, handoff), bursts, redelivery,
the model path (request, usage, budget, faults), restricted visitors and the ownership race."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.bot_support import (
    FAKE_KEY,
    FakeOpenRouter,
    bot_tap,
    completion,
    configure_bot_env,
    decision,
    say,
    seed_demo,
    use_model,
)
from tests.integration.routing_support import StreamTap
from tests.integration.widget_support import Visitor, conversation_item, stored_messages
from tests.support import HttpHandlerClient, LambdaContext, load_function
from yoosr import clock
from yoosr.routing import transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import budget, ddb, keys, visitors, workspaces
from yoosr.store.assignment import Tables


@pytest.fixture(scope="module")
def bot(stack: Any) -> Any:
    configure_bot_env(stack)
    return load_function("bot_reply_events")


@pytest.fixture
def tap(stack: Any, bot: Any) -> StreamTap:
    return bot_tap(stack)


@pytest.fixture
def demo(stack: Any, workspace: dict[str, Any]) -> dict[str, Any]:
    seed_demo(stack, workspace["id"])
    return workspace


@pytest.fixture
def guest(widget: HttpHandlerClient, demo: dict[str, Any]) -> Visitor:
    v = Visitor(widget, demo["key"])
    v.start_session()
    return v


def run(tap: StreamTap, bot: Any) -> None:
    tap.deliver(bot.lambda_handler)


def at_question(guest: Visitor, tap: StreamTap, bot: Any) -> str:
    """A new conversation greeted by the demo flow, with "Ask a question" tapped."""
    conversation_id = guest.start_conversation(text=None)
    run(tap, bot)
    say(guest, conversation_id, "Ask a question", value="question")
    run(tap, bot)
    return conversation_id


def bot_said(stack: Any, ws: str, conversation_id: str) -> list[dict[str, Any]]:
    return [m for m in stored_messages(stack, ws, conversation_id) if m["sender_type"] == "bot"]


def test_demo_flow_greets_offers_buttons_answers_from_knowledge_and_hands_off(
    stack: Any, bot: Any, tap: StreamTap, demo: dict[str, Any], guest: Visitor
) -> None:
    ws = demo["id"]
    conversation_id = guest.start_conversation(text=None)
    run(tap, bot)

    said = bot_said(stack, ws, conversation_id)
    assert [m["text"] for m in said] == [
        "Hi! I'm the Acme Outdoor assistant.",
        "What can I help you with?",
    ]
    assert said[1]["buttons"] == [
        {"label": "Ask a question", "value": "question"},
        {"label": "Where is my order?", "value": "order"},
        {"label": "Talk to a person", "value": "human"},
    ]
    # The widget sees them in order, with the quick replies.
    listed = guest.messages(conversation_id).json["items"]
    assert [m["sender_type"] for m in listed] == ["bot", "bot"]
    assert listed[1]["buttons"][0] == {"label": "Ask a question", "value": "question"}

    say(guest, conversation_id, "Ask a question", value="question")
    run(tap, bot)
    assert bot_said(stack, ws, conversation_id)[-1]["text"] == "Sure - what would you like to know?"

    say(guest, conversation_id, "How long does shipping take?")
    run(tap, bot)
    answer = bot_said(stack, ws, conversation_id)[-1]
    assert answer["text"].startswith("We ship every order within one business day.")
    assert answer["source"] == "knowledge"
    assert answer["ai"] == {"outcome": "answer", "source": "knowledge"}
    item = conversation_item(stack, ws, conversation_id)
    assert item["owner"] == "bot"
    assert item["bot_state"]["step_id"] == "ask"
    assert item["bot_turns"] == 3

    say(guest, conversation_id, "I want to talk to a human please")
    run(tap, bot)
    handoff = bot_said(stack, ws, conversation_id)[-1]
    assert handoff["text"] == "Let me connect you with someone from our team."
    assert handoff["handoff_reason"] == "visitor_asked"
    item = conversation_item(stack, ws, conversation_id)
    assert item["owner"] == "human"
    assert item["queue_sk"]  # queued for routing in the same transaction
    assert item["handed_off_at"]
    assert item["bot_state"]["status"] == "handed_off"

    # From now on the bot is silent.
    before = len(bot_said(stack, ws, conversation_id))
    say(guest, conversation_id, "Hello? Anyone?")
    run(tap, bot)
    assert len(bot_said(stack, ws, conversation_id)) == before


def test_collect_step_stores_the_email_on_the_visitor_with_its_lookup_hash(
    stack: Any, bot: Any, tap: StreamTap, demo: dict[str, Any], guest: Visitor
) -> None:
    ws = demo["id"]
    conversation_id = guest.start_conversation(text=None)
    run(tap, bot)
    say(guest, conversation_id, "Where is my order?", value="order")
    run(tap, bot)
    say(guest, conversation_id, "not an email")
    run(tap, bot)
    texts = [m["text"] for m in bot_said(stack, ws, conversation_id)]
    assert texts[-2:] == [
        "What's the email address on your order?",
        "That doesn't look like an email address - could you check it?",
    ]
    say(guest, conversation_id, "Jane.Doe@Example.com")
    run(tap, bot)
    assert bot_said(stack, ws, conversation_id)[-1]["text"].startswith("Thanks! I'm passing you")
    assert conversation_item(stack, ws, conversation_id)["owner"] == "human"
    assert guest.visitor_id is not None
    stored = ddb.get(stack.table("VisitorsTable"), *keys.visitor(ws, guest.visitor_id))
    assert stored is not None
    assert stored["email"].lower() == "jane.doe@example.com"
    assert stored["email_key"].startswith(ws + "#") and "example" not in stored["email_key"]


def test_a_burst_gets_one_reply_whether_delivered_together_or_apart(
    stack: Any, bot: Any, tap: StreamTap, demo: dict[str, Any], guest: Visitor
) -> None:
    ws = demo["id"]
    conversation_id = at_question(guest, tap, bot)
    turns = conversation_item(stack, ws, conversation_id)["bot_turns"]

    # Together: three messages in one batch.
    for text in ("hi", "one more thing", "how long does shipping take?"):
        say(guest, conversation_id, text)
    run(tap, bot)
    item = conversation_item(stack, ws, conversation_id)
    assert item["bot_turns"] == turns + 1
    assert bot_said(stack, ws, conversation_id)[-1]["text"].startswith("We ship every order")

    # Apart: every record in its own invocation, after all three are stored.
    for text in ("and returns?", "what is the refund policy", "for returns"):
        say(guest, conversation_id, text)
    records = tap.pending()
    assert len(records) == 3
    for record in records:
        result = bot.lambda_handler({"Records": [record]}, LambdaContext())
        assert result == {"batchItemFailures": []}
    item = conversation_item(stack, ws, conversation_id)
    assert item["bot_turns"] == turns + 2
    assert bot_said(stack, ws, conversation_id)[-1]["text"].startswith("You can return")


def test_redelivered_records_write_nothing_twice(
    stack: Any, bot: Any, tap: StreamTap, demo: dict[str, Any], guest: Visitor
) -> None:
    ws = demo["id"]
    conversation_id = guest.start_conversation(text="How long does shipping take?")
    records = tap.pending()
    assert records
    for _ in range(3):
        result = bot.lambda_handler({"Records": records}, LambdaContext())
        assert result == {"batchItemFailures": []}
    said = bot_said(stack, ws, conversation_id)
    # The first message starts the flow: greeting, then the menu (buttons do not read it).
    assert [m["text"] for m in said] == [
        "Hi! I'm the Acme Outdoor assistant.",
        "What can I help you with?",
    ]
    assert conversation_item(stack, ws, conversation_id)["bot_turns"] == 1


def test_without_a_flow_the_bot_answers_what_it_can_and_hands_off_the_rest(
    stack: Any, bot: Any, tap: StreamTap, visitor: Visitor, workspace: dict[str, Any]
) -> None:
    ws = workspace["id"]
    conversation_id = visitor.start_conversation(text="Can you change my invoice address?")
    run(tap, bot)
    said = bot_said(stack, ws, conversation_id)
    assert [m["text"] for m in said] == ["Let me connect you with someone from our team."]
    assert said[0]["handoff_reason"] == "no_answer"
    assert conversation_item(stack, ws, conversation_id)["owner"] == "human"


# ---------------------------------------------------------------- the model


def test_model_answer_request_usage_and_budget(
    stack: Any,
    bot: Any,
    tap: StreamTap,
    demo: dict[str, Any],
    guest: Visitor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = demo["id"]
    fake = FakeOpenRouter(
        lambda _: httpx.Response(
            200, json=completion(decision("Standard delivery takes 3-5 days."), tokens=150)
        )
    )
    use_model(monkeypatch, bot, fake)
    conversation_id = at_question(guest, tap, bot)
    say(guest, conversation_id, "Shipping to jane@example.com at +49 151 23456789 - how long?")
    run(tap, bot)

    (body,) = fake.bodies()
    request = fake.requests[0]
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert request.headers["x-title"] == "Yoosr"
    assert body["provider"] == {"data_collection": "deny"}
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["max_tokens"] == 400
    sent = json.dumps(body)
    assert "jane@example.com" not in sent and "23456789" not in sent
    assert "[email]" in sent and "[phone]" in sent
    assert "We ship every order within one business day" in body["messages"][0]["content"]

    answer = bot_said(stack, ws, conversation_id)[-1]
    assert answer["text"] == "Standard delivery takes 3-5 days."
    assert answer["source"] == "ai"
    assert answer["ai"]["outcome"] == "answer"
    assert answer["ai"]["model"] == "openai/gpt-4o-mini"
    assert (answer["ai"]["prompt_tokens"], answer["ai"]["completion_tokens"]) == (130, 20)
    assert answer["ai"]["cost_usd"] == "0.00012"
    assert budget.used(stack.table("EphemeralTable"), ws, budget.today()) == 150


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (lambda _: httpx.Response(429, json={"error": {"code": 429, "message": "slow"}}), "rate"),
        (lambda _: httpx.Response(402, json={"error": {"code": 402, "message": "pay"}}), "no_cr"),
        (lambda _: httpx.Response(500, json={"error": {"code": 500, "message": "x"}}), "server"),
        (lambda _: httpx.Response(200, json={"error": {"code": 502, "message": "x"}}), "model"),
        (lambda _: httpx.Response(200, content=b"<html>oops</html>"), "invalid"),
        (
            lambda _: httpx.Response(200, json=completion("I think so, yes - hand off")),
            "malformed_output",
        ),
        (
            lambda _: httpx.Response(200, json=completion(decision("?", handoff=True))),
            "model_handoff",
        ),
    ],
    ids=["429", "402", "500", "200-error", "not-json", "not-a-decision", "model-hands-off"],
)
def test_every_model_fault_ends_in_a_polite_handoff(
    stack: Any,
    bot: Any,
    tap: StreamTap,
    demo: dict[str, Any],
    guest: Visitor,
    monkeypatch: pytest.MonkeyPatch,
    fault: Any,
    kind: str,
) -> None:
    ws = demo["id"]
    fake = FakeOpenRouter(fault)
    use_model(monkeypatch, bot, fake)
    conversation_id = at_question(guest, tap, bot)
    started = time.monotonic()
    say(guest, conversation_id, "Do you ship to Norway?")
    run(tap, bot)
    assert time.monotonic() - started < 12
    said = bot_said(stack, ws, conversation_id)[-1]
    assert said["text"] == "Let me connect you with someone from our team."
    assert said["handoff_reason"] in ("ai_failure", "no_answer")
    assert said["ai"]["outcome"] in ("failure", "no_answer")
    item = conversation_item(stack, ws, conversation_id)
    assert item["owner"] == "human" and item["queue_sk"]
    assert len(fake.requests) >= 1
    # Nothing was spent on a failure without usage; a reservation never lingers.
    assert budget.used(stack.table("EphemeralTable"), ws, budget.today()) <= 150


def test_past_the_daily_budget_the_bot_hands_off_without_calling_the_model(
    stack: Any,
    bot: Any,
    tap: StreamTap,
    demo: dict[str, Any],
    guest: Visitor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = demo["id"]
    workspaces.update_settings(stack.table("WorkspacesTable"), ws, {"ai_daily_token_budget": 300})
    fake = FakeOpenRouter(lambda _: httpx.Response(200, json=completion(decision("x"))))
    use_model(monkeypatch, bot, fake)
    conversation_id = at_question(guest, tap, bot)
    say(guest, conversation_id, "How long does shipping take?")
    run(tap, bot)
    assert fake.requests == []
    said = bot_said(stack, ws, conversation_id)[-1]
    assert said["handoff_reason"] == "budget"
    assert said["ai"] == {
        "outcome": "failure",
        "failure_kind": "budget",
        "model": "openai/gpt-4o-mini",
    }
    assert budget.used(stack.table("EphemeralTable"), ws, budget.today()) == 0


@pytest.mark.parametrize("flag", ["restricted", "ai_objection"])
def test_a_restricted_visitor_gets_no_ai_step(
    stack: Any,
    bot: Any,
    tap: StreamTap,
    demo: dict[str, Any],
    guest: Visitor,
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
) -> None:
    ws = demo["id"]
    assert guest.visitor_id is not None
    visitors.update_attributes(stack.table("VisitorsTable"), ws, guest.visitor_id, {flag: True}, [])
    fake = FakeOpenRouter(lambda _: httpx.Response(200, json=completion(decision("x"))))
    use_model(monkeypatch, bot, fake)
    conversation_id = guest.start_conversation(text=None)
    run(tap, bot)
    say(guest, conversation_id, "How long does shipping take?")  # typed at the menu: on_other
    run(tap, bot)
    assert fake.requests == []
    said = bot_said(stack, ws, conversation_id)
    assert said[-1]["text"] == "Let me connect you with someone from our team."
    assert said[-1]["ai"] == {"outcome": "skipped", "reason": "restricted"}
    assert conversation_item(stack, ws, conversation_id)["owner"] == "human"


def test_a_human_taking_over_while_the_model_answers_silences_the_bot(
    stack: Any,
    bot: Any,
    tap: StreamTap,
    demo: dict[str, Any],
    guest: Visitor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = demo["id"]
    conversation_id = at_question(guest, tap, bot)
    tables = Tables(stack.table("WorkspacesTable"), stack.table("ConversationsTable"))
    agent_id = "user_agent_" + uuid.uuid4().hex[:8]
    ddb.put(
        tables.workspaces,
        {"pk": ws, "sk": f"AGENT#{agent_id}", "item_type": "agent", "open_count": 0},
    )

    def agent_takes_over(_: httpx.Request) -> httpx.Response:
        now = clock.iso()
        apply_transition(
            tables,
            ws,
            conversation_id,
            lambda before, _item: transitions.assign(before, agent_id, now, None),
        )
        return httpx.Response(200, json=completion(decision("Shipping takes 3-5 days.")))

    fake = FakeOpenRouter(agent_takes_over)
    use_model(monkeypatch, bot, fake)
    before = len(bot_said(stack, ws, conversation_id))
    say(guest, conversation_id, "How long does shipping take?")
    run(tap, bot)

    assert len(fake.requests) == 1  # the model did answer ...
    assert len(bot_said(stack, ws, conversation_id)) == before  # ... and nobody saw it
    item = conversation_item(stack, ws, conversation_id)
    assert (item["owner"], item["assignee_id"]) == ("human", agent_id)
    assert "queue_sk" not in item
    assert item["bot_turns"] == 2  # the discarded turn wrote nothing
    agent = ddb.get(tables.workspaces, ws, f"AGENT#{agent_id}")
    assert agent is not None and agent["open_count"] == 1
