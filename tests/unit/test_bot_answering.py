"""From question to answer or handoff: prompt isolation, masking on the wire, the model's
structured decision, the offline answer, and every model fault ending in a handoff."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.unit.test_bot_flows import demo_flow_data
from tests.unit.test_openrouter import FAULTS, TRANSPORT_FAULTS, FakeClock, Handler
from yoosr.ai.openrouter import OpenRouterClient
from yoosr.ai.types import AiFailure, AiSuccess, ChatRequest
from yoosr.bot.answering import (
    DECISION_SCHEMA,
    AiProfile,
    Turn,
    build_answer_request,
    decide,
    offline_answer,
    parse_decision,
)
from yoosr.bot.engine import (
    Answer,
    BotContext,
    FlowState,
    Handoff,
    NoAnswer,
    SendMessage,
    VisitorMessage,
    advance,
)
from yoosr.bot.flows import validate_flow
from yoosr.bot.knowledge import KnowledgeEntry, KnowledgeIndexCache

E = KnowledgeEntry
ENTRIES = {
    "ws_a": [
        E(id="a1", title="Refund policy", content="Acme refunds within 30 days. ZEBRA-A-ONLY."),
        E(id="a2", title="Shipping", content="Acme ships worldwide in 3 days."),
    ],
    "ws_b": [
        E(id="b1", title="Refund policy", content="Beta refunds within 14 days. GIRAFFE-B-ONLY."),
        E(id="b2", title="Contact", content="Write to boss@beta.example or call +49 30 1234567."),
    ],
}
PROFILE_A = AiProfile(
    workspace_id="ws_a",
    workspace_name="Acme",
    model="openai/gpt-4o-mini",
    fallback_models=("mistralai/mistral-small",),
)
ALLOWED = ["acme.com"]
PERSONAL = ["jane@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "boss@beta.example"]


def _cache() -> KnowledgeIndexCache:
    cache = KnowledgeIndexCache()
    for workspace_id, entries in ENTRIES.items():
        cache.get(workspace_id, "v1", lambda entries=entries: entries)  # type: ignore[misc]
    return cache


def _decision(answer: str, handoff: bool = False, confidence: float = 0.9) -> str:
    return json.dumps({"answer": answer, "handoff": handoff, "confidence": confidence})


def _success(content: str, finish_reason: str | None = "stop") -> AiSuccess:
    return AiSuccess(
        content=content,
        model="m",
        requested_model="m",
        finish_reason=finish_reason,
        usage=None,
        latency_ms=5,
    )


# --- prompt isolation ------------------------------------------------------------------------


def test_a_request_for_workspace_a_carries_only_a_and_no_personal_data() -> None:
    # Given both workspaces' indexes loaded in the same warm cache
    cache = _cache()
    index_a = cache.get("ws_a", "v1", lambda: pytest.fail("A is cached"))
    transcript = [
        Turn("visitor", "Hi, I'm jane@example.com, phone +44 20 7946 0958"),
        Turn("bot", "Hello! How can I help?"),
    ]

    # When a refund question (which matches both knowledge bases) is asked in workspace A
    request = build_answer_request(
        PROFILE_A, index_a, "Refund to card 4111 1111 1111 1111 please?", transcript
    )

    # Then what goes on the wire holds A's knowledge, none of B's, and no personal data
    seen: list[bytes] = []

    def capture(wire: httpx.Request) -> httpx.Response:
        seen.append(wire.content)
        return httpx.Response(200, json={"choices": [{"message": {"content": "{}"}}]})

    client = OpenRouterClient("k", referer="r", title="t", transport=httpx.MockTransport(capture))
    client.complete(request)
    wire = seen[0].decode()
    assert "ZEBRA-A-ONLY" in wire
    assert "GIRAFFE-B-ONLY" not in wire
    assert "Beta" not in wire
    for value in PERSONAL:
        assert value not in wire
        assert json.dumps(value)[1:-1] not in wire
    assert "[email]" in wire and "[phone]" in wire and "[card]" in wire

    body = json.loads(wire)
    assert body["response_format"]["json_schema"]["schema"] == DECISION_SCHEMA
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]


def test_another_workspaces_index_is_refused() -> None:
    index_b = _cache().get("ws_b", "v1", lambda: pytest.fail("B is cached"))

    with pytest.raises(ValueError, match="another workspace"):
        build_answer_request(PROFILE_A, index_b, "Refund?")


def test_knowledge_entries_are_masked_too() -> None:
    profile_b = AiProfile(workspace_id="ws_b", workspace_name="Beta", model="m")
    index_b = _cache().get("ws_b", "v1", list)

    request = build_answer_request(profile_b, index_b, "How do I contact you? Call or write?")

    system = request.messages[0].content
    assert "Contact" in system
    assert "boss@beta.example" not in system and "1234567" not in system


def test_only_relevant_entries_and_recent_turns_are_sent() -> None:
    index_a = _cache().get("ws_a", "v1", list)
    transcript = [Turn("visitor", f"message {n}") for n in range(30)]

    request = build_answer_request(PROFILE_A, index_a, "How long does shipping take?", transcript)

    system = request.messages[0].content
    assert "ships worldwide" in system and "ZEBRA" not in system
    assert len(request.messages) == 1 + 10 + 1
    assert request.messages[1].content == "message 20"
    assert isinstance(request, ChatRequest)
    assert (request.model, request.fallback_models) == (
        "openai/gpt-4o-mini",
        ("mistralai/mistral-small",),
    )


# --- the model's decision --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (_decision("Yes."), ("Yes.", False, 0.9)),
        ('```json\n{"answer": "Hi", "handoff": true, "confidence": 1}\n```', ("Hi", True, 1.0)),
        ("Sure, here you go", None),
        ('{"answer": "x", "handoff": "no", "confidence": 0.5}', None),
        ('{"answer": "x", "handoff": false, "confidence": true}', None),
        ('{"answer": 3, "handoff": false, "confidence": 0.5}', None),
        ("[1]", None),
    ],
)
def test_parse_decision(content: str, expected: tuple[str, bool, float] | None) -> None:
    decision = parse_decision(content)
    got = None if decision is None else (decision.answer, decision.handoff, decision.confidence)
    assert got == expected


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            _success(_decision("See <b>https://acme.com/refunds</b> and https://evil.com")),
            Answer("See https://acme.com/refunds and", "ai"),
        ),
        (_success(_decision("x", handoff=True)), NoAnswer("no_answer", "model_handoff")),
        (_success(_decision("x", confidence=0.2)), NoAnswer("no_answer", "low_confidence")),
        (_success("plain text, no JSON"), NoAnswer("ai_failure", "malformed_output")),
        (_success(_decision("cut of"), "length"), NoAnswer("ai_failure", "finish_length")),
        (_success(_decision("<img src=x>")), NoAnswer("ai_failure", "empty_answer")),
        (AiFailure("rate_limited", True, 429, 10), NoAnswer("ai_failure", "rate_limited")),
    ],
)
def test_decide(result: Any, expected: Answer | NoAnswer) -> None:
    assert decide(result, ALLOWED) == expected


def test_decide_caps_the_answer() -> None:
    result = decide(_success(_decision("word " * 500)), ALLOWED, max_chars=50)
    assert isinstance(result, Answer) and len(result.text) <= 50


# --- without a key ---------------------------------------------------------------------------


def test_offline_answers_from_a_confident_entry_and_hands_off_otherwise() -> None:
    index_a = _cache().get("ws_a", "v1", list)

    answered = offline_answer(index_a, "How fast is shipping?", ALLOWED)
    unsure = offline_answer(index_a, "Do you sell gift cards?", ALLOWED)

    assert answered == Answer("Acme ships worldwide in 3 days.", "knowledge")
    assert unsure == NoAnswer("no_answer", "not_confident")


def test_the_demo_flow_answers_offline_and_hands_off_when_unsure() -> None:
    index_a = _cache().get("ws_a", "v1", list)
    context = BotContext(answer=lambda q: offline_answer(index_a, q, ALLOWED))
    flow = validate_flow(demo_flow_data())
    state = advance(flow, FlowState(), VisitorMessage("hi"), context).state
    state = advance(flow, state, VisitorMessage("x", value="pricing"), context).state

    answered = advance(flow, state, VisitorMessage("How fast is shipping?"), context)
    unsure = advance(flow, answered.state, VisitorMessage("Gift cards?"), context)

    assert answered.actions == (SendMessage("Acme ships worldwide in 3 days.", source="knowledge"),)
    assert unsure.actions == (Handoff("support", "no_answer", "Let me find a colleague."),)


# --- every model fault ends in a handoff -----------------------------------------------------


@pytest.mark.parametrize(
    "handler",
    [case[1] for case in FAULTS + TRANSPORT_FAULTS],
    ids=[case[0] for case in FAULTS + TRANSPORT_FAULTS],
)
def test_every_model_fault_hands_off_politely(handler: Handler) -> None:
    clock = FakeClock()
    client = OpenRouterClient(
        "k",
        referer="r",
        title="t",
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
    )
    index_a = _cache().get("ws_a", "v1", list)

    def answer(question: str) -> Answer | NoAnswer:
        request = build_answer_request(PROFILE_A, index_a, question)
        return decide(client.complete(request), ALLOWED)

    flow = validate_flow(demo_flow_data())
    context = BotContext(answer=answer)
    state = advance(flow, FlowState(), VisitorMessage("hi"), context).state
    state = advance(flow, state, VisitorMessage("x", value="pricing"), context).state

    outcome = advance(flow, state, VisitorMessage("What is your refund policy?"), context)

    assert outcome.actions == (Handoff("support", "ai_failure", "Let me find a colleague."),)
    assert outcome.state.status == "handed_off"
