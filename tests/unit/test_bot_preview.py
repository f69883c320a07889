"""The preview playground's pure core (yoosr.bot.preview) and the greeting-flow rule of the
bot store: no DynamoDB, no clock, no model."""

from __future__ import annotations

from typing import Any

import pytest

from yoosr.bot import preview, safety
from yoosr.bot.engine import (
    Answer,
    BotContext,
    Close,
    Handoff,
    NoAnswer,
    QuickReply,
    RequestAnswer,
    SendMessage,
    SetAttribute,
    VisitorMessage,
)
from yoosr.bot.flows import Flow, validate_flow
from yoosr.bot.knowledge import KnowledgeEntry, KnowledgeIndex, build_index
from yoosr.models.bot import (
    CloseActionOut,
    HandoffActionOut,
    MessageActionOut,
    QuickReplyOut,
    SetAttributeActionOut,
)
from yoosr.store.bot import greeting_after

FLOW: dict[str, Any] = {
    "id": "demo",
    "name": "Demo",
    "version": 4,
    "start_step": "greet",
    "default_department_id": "support",
    "steps": [
        {"id": "greet", "type": "message", "text": "Hi!", "next": "menu"},
        {
            "id": "menu",
            "type": "buttons",
            "text": "Pick one",
            "on_other": "ask",
            "options": [
                {"label": "Question", "value": "q", "next": "ask"},
                {"label": "Bye", "next": "bye"},
            ],
        },
        {"id": "ask", "type": "ai_answer", "prompt": "Ask away.", "on_no_answer": "human"},
        {"id": "human", "type": "handoff", "message": "A colleague will help."},
        {"id": "bye", "type": "close", "message": "Bye!"},
    ],
}
ENTRIES = [
    KnowledgeEntry(
        id="kb_ship",
        title="Shipping to Norway",
        content="We ship to Norway. Details: https://shop.example.com/ship and https://x.test/a",
    ),
    KnowledgeEntry(id="kb_returns", title="Returns", content="Returns within 30 days."),
]


def flow() -> Flow:
    return validate_flow(FLOW)


def context(**changes: Any) -> BotContext:
    loads: list[int] = changes.pop("loads", [])

    def index() -> KnowledgeIndex:
        loads.append(1)
        return build_index("ws_1", ENTRIES, "1")

    answer = preview.offline_answerer(index, ["shop.example.com"])
    return BotContext(**{"answer": answer, **changes})


def messages(*texts: str | tuple[str, str]) -> list[VisitorMessage]:
    out = []
    for text in texts:
        if isinstance(text, tuple):
            out.append(VisitorMessage(text=text[0], value=text[1]))
        else:
            out.append(VisitorMessage(text=text))
    return out


def test_each_message_is_one_turn_from_a_new_conversation() -> None:
    result = preview.run(flow(), messages("hello", ("Question", "q"), "ship to Norway?"), context())
    assert [t.text for t in result.turns] == ["hello", "Question", "ship to Norway?"]
    assert result.turns[1].value == "q"
    assert result.turns[0].actions == [
        MessageActionOut(text="Hi!", source="flow"),
        MessageActionOut(
            text="Pick one",
            buttons=[
                QuickReplyOut(label="Question", value="q"),
                QuickReplyOut(label="Bye", value="Bye"),
            ],
            source="flow",
        ),
    ]
    assert result.turns[1].actions == [MessageActionOut(text="Ask away.", source="flow")]
    (answer,) = result.turns[2].actions
    assert isinstance(answer, MessageActionOut) and answer.source == "knowledge"
    assert answer.text.startswith("We ship to Norway.")
    # Links only to the workspace's own domains
    assert "https://shop.example.com/ship" in answer.text and "x.test" not in answer.text
    assert result.state.model_dump() == {
        "flow_id": "demo",
        "flow_version": 4,
        "step_id": "ask",
        "status": "running",
        "attributes": {},
    }


def test_the_bot_is_silent_after_a_handoff() -> None:
    result = preview.run(flow(), messages("hi", "talk to a human", "hello?", "anyone?"), context())
    assert result.turns[1].actions == [
        HandoffActionOut(
            department_id="support",
            reason="visitor_asked",
            message="Let me connect you with someone from our team.",
        )
    ]
    assert result.turns[2].actions == [] and result.turns[3].actions == []
    assert result.state.status == "handed_off"


def test_an_unanswerable_question_hands_off_with_no_answer() -> None:
    result = preview.run(flow(), messages("hi", "what about the weather on Mars?"), context())
    assert result.turns[1].actions == [
        HandoffActionOut(
            department_id="support", reason="no_answer", message="A colleague will help."
        )
    ]


def test_a_close_ends_the_preview() -> None:
    result = preview.run(flow(), messages("hi", ("Bye", "Bye"), "wait"), context())
    assert result.turns[1].actions == [CloseActionOut(message="Bye!")]
    assert result.turns[2].actions == []
    assert result.state.status == "closed"


def test_the_knowledge_index_is_loaded_once_and_only_when_needed() -> None:
    loads: list[int] = []
    preview.run(flow(), messages("hi", ("Bye", "Bye")), context(loads=loads))
    assert loads == []  # never reached the AI step
    preview.run(flow(), messages("hi", "Norway?", "returns?", "shipping?"), context(loads=loads))
    assert loads == [1]


def test_conditions_see_the_context_and_attributes_are_reported() -> None:
    gate = validate_flow(
        {
            "id": "gate",
            "name": "Gate",
            "version": 1,
            "start_step": "check",
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "match": "all",
                    "rules": [
                        {"kind": "business_hours_open"},
                        {"kind": "agents_online"},
                        {"kind": "attribute", "attribute": "plan", "op": "equals", "value": "pro"},
                    ],
                    "then": "tag",
                    "else": "bye",
                },
                {
                    "id": "tag",
                    "type": "set_attribute",
                    "attribute": "vip",
                    "value": "yes",
                    "next": "go",
                },
                {"id": "go", "type": "handoff", "department_id": "vip", "message": "Hello VIP"},
                {"id": "bye", "type": "close", "message": "Closed."},
            ],
        }
    )
    open_ = context(business_hours_open=True, agents_online=True, attributes={"plan": "Pro"})
    result = preview.run(gate, messages("hi"), open_)
    assert result.turns[0].actions == [
        SetAttributeActionOut(name="vip", value="yes"),
        HandoffActionOut(department_id="vip", reason="flow", message="Hello VIP"),
    ]
    assert result.state.attributes == {"vip": "yes"}
    for closed in (
        context(business_hours_open=False, agents_online=True, attributes={"plan": "pro"}),
        context(business_hours_open=True, agents_online=False, attributes={"plan": "pro"}),
        context(business_hours_open=True, agents_online=True),
    ):
        assert preview.run(gate, messages("hi"), closed).turns[0].actions == [
            CloseActionOut(message="Closed.")
        ]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            SendMessage("hi", (QuickReply("A", "a"),), "ai"),
            MessageActionOut(text="hi", buttons=[QuickReplyOut(label="A", value="a")], source="ai"),
        ),
        (SetAttribute("email", "a@b.co"), SetAttributeActionOut(name="email", value="a@b.co")),
        (
            Handoff("dept", "budget", "m"),
            HandoffActionOut(department_id="dept", reason="budget", message="m"),
        ),
        (Close("bye"), CloseActionOut(message="bye")),
        (RequestAnswer("ask", "q"), None),
    ],
)
def test_actions_map_to_the_response_shape(action: Any, expected: Any) -> None:
    assert preview.action_out(action) == expected


def test_link_domains_are_the_hosts_of_the_allowed_origins() -> None:
    origins = [
        "https://shop.example.com",
        "http://localhost:3000",
        "https://shop.example.com:8443",
        "not a url",
        "http://[::1",
    ]
    assert safety.link_domains(origins) == ["shop.example.com", "localhost"]


def test_offline_answerer_answers_only_when_confident() -> None:
    answer = preview.offline_answerer(lambda: build_index("ws", ENTRIES), [])
    found = answer("Do you ship to Norway?")
    assert isinstance(found, Answer) and found.source == "knowledge"
    assert "http" not in found.text  # no domain allowed: no link kept
    assert answer("tell me about quantum physics") == NoAnswer("no_answer", "not_confident")


@pytest.mark.parametrize(
    ("current", "active", "first", "expected"),
    [
        (None, None, True, "f1"),  # the first flow greets
        (None, None, False, None),  # later flows do not go live on their own
        ("f0", None, True, "f0"),
        (None, False, True, None),  # unless told not to
        ("f0", True, False, "f1"),
        ("f0", False, False, "f0"),  # not the greeting: nothing to stop
        ("f1", False, False, None),
        ("f1", None, False, "f1"),
    ],
)
def test_greeting_after_a_flow_write(
    current: str | None, active: bool | None, first: bool, expected: str | None
) -> None:
    assert greeting_after(current, "f1", active, first_flow=first) == expected
