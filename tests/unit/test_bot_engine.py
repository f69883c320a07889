"""The flow engine: step by step, and whole conversations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_bot_flows import demo_flow_data
from yoosr.bot import fields
from yoosr.bot.engine import (
    Answer,
    AnswerReady,
    BotContext,
    Close,
    Event,
    FlowState,
    Handoff,
    NoAnswer,
    Outcome,
    QuickReply,
    RequestAnswer,
    SendMessage,
    SetAttribute,
    VisitorMessage,
    advance,
)
from yoosr.bot.flows import Flow, validate_flow
from yoosr.bot.intent import wants_human

OPEN = BotContext(business_hours_open=True, agents_online=True)
MENU = SendMessage(
    "What can I help with?",
    (
        QuickReply("Pricing", "pricing"),
        QuickReply("Talk to sales", "sales"),
        QuickReply("Something else", "Something else"),
    ),
)


class Conversation:
    """Feeds events through `advance`, keeping the state as the caller would store it."""

    def __init__(self, flow: Flow, context: BotContext = OPEN) -> None:
        self.flow = flow
        self.context = context
        self.state = FlowState()

    def send(self, event: Event | str) -> Outcome:
        if isinstance(event, str):
            event = VisitorMessage(event)
        outcome = advance(self.flow, self.state, event, self.context)
        # The state survives a round trip through the store.
        self.state = FlowState.model_validate_json(outcome.state.model_dump_json())
        return outcome


def demo(**changes: Any) -> Flow:
    data = demo_flow_data()
    for step in data["steps"]:
        step.update(changes.get(step["id"], {}))
    return validate_flow(data)


class Recorder:
    """An answer callback that records the questions it was asked."""

    def __init__(self, *results: Answer | NoAnswer) -> None:
        self.results = list(results)
        self.questions: list[str] = []

    def __call__(self, question: str) -> Answer | NoAnswer:
        self.questions.append(question)
        return self.results.pop(0)


# --- whole conversations ---------------------------------------------------------------------


def test_greeting_buttons_choice_email_with_one_retry_then_handoff() -> None:
    chat = Conversation(demo())

    # Given a new conversation, the first message gets the greeting and the menu
    first = chat.send("hello")
    assert first.actions == (SendMessage("Hi! I'm the Acme bot."), MENU)
    assert chat.state.step_id == "menu"
    assert (chat.state.flow_id, chat.state.flow_version) == ("welcome", 3)

    # When the visitor taps "Talk to sales" while sales is open
    ask = chat.send(VisitorMessage("Talk to sales", value="sales"))
    assert ask.actions == (SendMessage("What's your email address?"),)

    # And types an invalid address once
    retry = chat.send("jane at example dot com")
    assert retry.actions == (
        SendMessage("That doesn't look like an email address. Please try again."),
    )
    assert (chat.state.step_id, chat.state.attempts) == ("ask_email", 1)

    # Then a valid one is stored and the conversation goes to sales
    done = chat.send("  Jane.Doe@Example.COM ")
    assert done.actions == (
        SetAttribute("email", "Jane.Doe@example.com"),
        SetAttribute("lead", "sales"),
        Handoff(department_id="sales", reason="flow", message="Connecting you to sales."),
    )
    assert chat.state.status == "handed_off"
    assert chat.state.attributes == {"email": "Jane.Doe@example.com", "lead": "sales"}

    # And from then on the bot is silent
    assert chat.send("hello?").actions == ()


def test_sales_closed_goes_to_the_else_branch_and_closes() -> None:
    chat = Conversation(demo(), BotContext(business_hours_open=True, agents_online=False))
    chat.send("hi")

    outcome = chat.send(VisitorMessage("Talk to sales", value="sales"))

    assert outcome.actions == (
        SendMessage("Sales is offline."),
        Close("We'll write to you tomorrow."),
    )
    assert chat.state.status == "closed"
    assert chat.send("anyone?").actions == ()


def test_collect_gives_up_after_max_attempts_and_follows_on_fail() -> None:
    chat = Conversation(demo(ask_email={"max_attempts": 2}))
    chat.send("hi")
    chat.send(VisitorMessage("Talk to sales", value="sales"))

    chat.send("nope")
    outcome = chat.send("still no")

    assert outcome.actions == (
        Handoff(department_id="sales", reason="flow", message="Connecting you to sales."),
    )
    assert "email" not in chat.state.attributes


def test_collect_with_one_attempt_fails_at_once_and_re_asks_with_the_prompt() -> None:
    chat = Conversation(demo(ask_email={"max_attempts": 1, "invalid_prompt": None}))
    chat.send("hi")
    chat.send(VisitorMessage("x", value="sales"))

    assert chat.send("bad").actions[-1] == Handoff("sales", "flow", "Connecting you to sales.")

    chat = Conversation(demo(ask_email={"invalid_prompt": None}))
    chat.send("hi")
    chat.send(VisitorMessage("x", value="sales"))
    assert chat.send("bad").actions == (SendMessage("What's your email address?"),)


# --- asking for a person ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please?",
        "HUMAN!!",
        "agent",
        "I want to speak with someone",
        "Ich möchte mit einem Menschen sprechen",
        "Mitarbeiter bitte",
        "Je veux parler à un conseiller",
        "Est-ce que je peux parler à quelqu'un ?",
        "Quiero hablar con una persona",
        "¿Puedo hablar con un agente?",
    ],
)
def test_asking_for_a_person_hands_off_from_any_step(text: str) -> None:
    for setup in ([], ["hi"], ["hi", VisitorMessage("s", value="sales")], ["hi", "what plans?"]):
        context = BotContext(agents_online=True, answer=Recorder(Answer("Plans…", "ai")))
        chat = Conversation(demo(), context)
        for event in setup:
            chat.send(event)

        outcome = chat.send(text)

        assert outcome.actions == (
            Handoff(
                department_id="support",
                reason="visitor_asked",
                message="Let me connect you with someone from our team.",
            ),
        ), setup
        assert chat.state.status == "handed_off"


@pytest.mark.parametrize(
    "text",
    [
        "What does it cost per person?",
        "Precio por persona",
        "My travel agent booked the wrong hotel for me",
        "Is the human resources module included?",
        "",
    ],
)
def test_other_messages_are_not_a_request_for_a_person(text: str) -> None:
    assert not wants_human(text)


def test_a_tapped_button_is_never_read_as_a_request_for_a_person() -> None:
    chat = Conversation(demo())
    chat.send("hi")

    outcome = chat.send(VisitorMessage("talk to a human", value="sales"))

    assert outcome.actions == (SendMessage("What's your email address?"),)


# --- buttons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["pricing", "PRICING ", "Something else"])
def test_typed_text_matching_an_option_value_or_label_chooses_it(typed: str) -> None:
    chat = Conversation(demo())
    chat.send("hi")

    outcome = chat.send(typed)

    assert outcome.actions == (SendMessage("What would you like to know?"),)
    assert chat.state.step_id == "ask"


def test_other_typed_text_goes_to_on_other_as_the_question() -> None:
    recorder = Recorder(Answer("Starter is 19 EUR a month.", "knowledge"))
    chat = Conversation(demo(), BotContext(answer=recorder))
    chat.send("hi")

    outcome = chat.send("How much is the starter plan?")

    assert recorder.questions == ["How much is the starter plan?"]
    assert outcome.actions == (SendMessage("Starter is 19 EUR a month.", source="knowledge"),)


def test_without_on_other_the_buttons_are_offered_again() -> None:
    chat = Conversation(demo(menu={"on_other": None}))
    chat.send("hi")

    assert chat.send("bananas").actions == (MENU,)
    assert chat.state.step_id == "menu"


def test_the_first_message_is_not_taken_as_a_button_choice() -> None:
    chat = Conversation(demo())

    chat.send("pricing")

    assert chat.state.step_id == "menu"


# --- ai_answer -------------------------------------------------------------------------------


def test_ai_answer_answers_and_keeps_answering() -> None:
    recorder = Recorder(Answer("We ship in 3 days.", "ai"), Answer("Yes, to the UK too.", "ai"))
    chat = Conversation(demo(), BotContext(answer=recorder))
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))

    first = chat.send("How fast do you ship?")
    second = chat.send("And to the UK?")

    assert first.actions == (SendMessage("We ship in 3 days.", source="ai"),)
    assert second.actions == (SendMessage("Yes, to the UK too.", source="ai"),)
    assert recorder.questions == ["How fast do you ship?", "And to the UK?"]
    assert chat.state.step_id == "ask"


def test_ai_answer_moves_on_after_an_answer_when_told_to() -> None:
    recorder = Recorder(Answer("It is 49 EUR.", "ai"))
    chat = Conversation(demo(ask={"next_on_answer": "menu"}), BotContext(answer=recorder))
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))

    outcome = chat.send("Price of Pro?")

    assert outcome.actions == (SendMessage("It is 49 EUR.", source="ai"), MENU)


@pytest.mark.parametrize("reason", ["no_answer", "ai_failure", "budget"])
def test_no_answer_hands_off_with_its_reason(reason: str) -> None:
    recorder = Recorder(NoAnswer(reason, "detail"))  # type: ignore[arg-type]
    chat = Conversation(demo(), BotContext(answer=recorder))
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))

    outcome = chat.send("Do you integrate with SAP?")

    # The on_no_answer step has no department: the flow's default applies.
    assert outcome.actions == (
        Handoff(department_id="support", reason=reason, message="Let me find a colleague."),  # type: ignore[arg-type]
    )
    assert chat.state.status == "handed_off"


def test_small_talk_is_not_sent_for_an_answer() -> None:
    recorder = Recorder()
    chat = Conversation(demo(), BotContext(answer=recorder))
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))

    outcome = chat.send("Thanks!")

    assert recorder.questions == []
    assert outcome.actions == (SendMessage("What would you like to know?"),)


def test_an_opening_question_reaches_an_ai_answer_start() -> None:
    data = demo_flow_data()
    data["start_step"] = "ask"
    data["steps"] = [s for s in data["steps"] if s["id"] in ("ask", "to_support")]
    recorder = Recorder(Answer("Use 'Forgot password'.", "knowledge"))
    chat = Conversation(validate_flow(data), BotContext(answer=recorder))

    outcome = chat.send("How do I reset my password?")

    assert recorder.questions == ["How do I reset my password?"]
    assert outcome.actions == (SendMessage("Use 'Forgot password'.", source="knowledge"),)


def test_without_a_callback_the_answer_is_requested_and_resumed() -> None:
    chat = Conversation(demo())  # no answer callback
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))

    requested = chat.send("Do you have a free plan?")
    assert requested.actions == (RequestAnswer(step_id="ask", question="Do you have a free plan?"),)
    assert chat.state.pending_question == "Do you have a free plan?"

    answered = chat.send(AnswerReady(Answer("No, but a trial.", "ai")))
    assert answered.actions == (SendMessage("No, but a trial.", source="ai"),)
    assert chat.state.pending_question is None

    # A duplicate delivery of the same answer does nothing.
    assert chat.send(AnswerReady(Answer("No, but a trial.", "ai"))).actions == ()


def test_a_requested_answer_that_failed_hands_off() -> None:
    chat = Conversation(demo())
    chat.send("hi")
    chat.send(VisitorMessage("Pricing", value="pricing"))
    chat.send("Is there an API?")

    outcome = chat.send(AnswerReady(NoAnswer("ai_failure", "timeout")))

    assert outcome.actions == (Handoff("support", "ai_failure", "Let me find a colleague."),)


# --- conditions and attributes ---------------------------------------------------------------


def _condition_flow(rules: list[dict[str, Any]], match: str = "all") -> Flow:
    return validate_flow(
        {
            "id": "c",
            "name": "C",
            "version": 1,
            "start_step": "set",
            "steps": [
                {
                    "id": "set",
                    "type": "set_attribute",
                    "attribute": "plan",
                    "value": "Pro",
                    "next": "if",
                },
                {
                    "id": "if",
                    "type": "condition",
                    "rules": rules,
                    "match": match,
                    "then": "yes",
                    "else": "no",
                },
                {"id": "yes", "type": "close", "message": "yes"},
                {"id": "no", "type": "close", "message": "no"},
            ],
        }
    )


@pytest.mark.parametrize(
    ("rules", "match", "context", "expected"),
    [
        (
            [{"kind": "attribute", "attribute": "plan", "op": "equals", "value": "pro"}],
            "all",
            OPEN,
            "yes",
        ),
        (
            [{"kind": "attribute", "attribute": "plan", "op": "not_equals", "value": "pro"}],
            "all",
            OPEN,
            "no",
        ),
        (
            [{"kind": "attribute", "attribute": "plan", "op": "contains", "value": "R"}],
            "all",
            OPEN,
            "yes",
        ),
        ([{"kind": "attribute", "attribute": "vip", "op": "exists"}], "all", OPEN, "no"),
        (
            [{"kind": "attribute", "attribute": "vip", "op": "exists"}],
            "all",
            BotContext(attributes={"vip": "1"}),
            "yes",
        ),
        ([{"kind": "attribute", "attribute": "vip", "op": "missing"}], "all", OPEN, "yes"),
        ([{"kind": "business_hours_open", "value": False}], "all", OPEN, "no"),
        ([{"kind": "agents_online"}], "all", BotContext(agents_online=False), "no"),
        (
            [{"kind": "agents_online"}, {"kind": "business_hours_open"}],
            "any",
            BotContext(business_hours_open=True),
            "yes",
        ),
        (
            [{"kind": "agents_online"}, {"kind": "business_hours_open"}],
            "all",
            BotContext(business_hours_open=True),
            "no",
        ),
    ],
)
def test_conditions(
    rules: list[dict[str, Any]], match: str, context: BotContext, expected: str
) -> None:
    outcome = advance(_condition_flow(rules, match), FlowState(), VisitorMessage("hi"), context)

    assert outcome.actions == (SetAttribute("plan", "Pro"), Close(expected))


def test_attributes_set_by_the_flow_win_over_the_visitors_stored_ones() -> None:
    rules = [{"kind": "attribute", "attribute": "plan", "op": "equals", "value": "pro"}]
    context = BotContext(attributes={"plan": "starter"})

    outcome = advance(_condition_flow(rules), FlowState(), VisitorMessage("hi"), context)

    assert outcome.actions[-1] == Close("yes")


# --- state edge cases ------------------------------------------------------------------------


def test_a_state_on_a_step_that_no_longer_exists_starts_over() -> None:
    state = FlowState(flow_id="welcome", flow_version=2, step_id="removed_step")

    outcome = advance(demo(), state, VisitorMessage("hi"), OPEN)

    assert outcome.actions == (SendMessage("Hi! I'm the Acme bot."), MENU)
    assert outcome.state.flow_version == 3


def test_an_answer_without_a_pending_question_is_ignored() -> None:
    state = FlowState(flow_id="welcome", flow_version=3, step_id="menu")

    outcome = advance(demo(), state, AnswerReady(Answer("x", "ai")), OPEN)

    assert outcome == Outcome(actions=(), state=state)


# --- collect-field validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("email", "jane@example.com", "jane@example.com"),
        ("email", " Jane+tag@Sub.Example.ORG ", "Jane+tag@sub.example.org"),
        ("email", "jane@example", None),
        ("email", "jane example.com", None),
        ("email", "jane@@example.com", None),
        ("email", "jane@example.c0m", None),
        ("email", "a" * 250 + "@example.com", None),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "(555) 123-4567", "5551234567"),
        ("phone", "030/1234567", "0301234567"),
        ("phone", "12345", None),
        ("phone", "+1 234 567 890 123 456", None),
        ("phone", "call me maybe", None),
        ("name", "  Anne-Marie   O'Neil ", "Anne-Marie O'Neil"),
        ("name", "José Ñúñez", "José Ñúñez"),
        ("name", "R2D2", None),
        ("name", "---", None),
        ("name", "x" * 101, None),
        ("text", "  My order never arrived  ", "My order never arrived"),
        ("text", "   ", None),
        ("text", "x" * 1001, None),
    ],
)
def test_collect_field_checks(kind: Any, text: str, expected: str | None) -> None:
    assert fields.check(kind, text) == expected
