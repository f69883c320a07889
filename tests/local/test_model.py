"""The local OpenRouter stand-in (local/model.py), fed the requests the bot really builds:
yoosr.bot.answering's prompt, yoosr.ai.openrouter's body and client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local import model
from local.seed import demo_knowledge
from yoosr.ai.openrouter import OpenRouterClient, request_body
from yoosr.ai.types import AiFailure, AiSuccess, ChatRequest
from yoosr.bot import answering, knowledge
from yoosr.bot.engine import Answer, NoAnswer

AUTH = f"Bearer {model.LOCAL_API_KEY}"
SHIPPING = next(e for e in demo_knowledge() if e["title"] == "Shipping times")


def demo_index(ws: str = "ws_demo") -> knowledge.KnowledgeIndex:
    entries = [
        knowledge.KnowledgeEntry(
            id=f"kb_{i}", title=e["title"], content=e["content"], tags=tuple(e["tags"])
        )
        for i, e in enumerate(demo_knowledge())
    ]
    return knowledge.build_index(ws, entries, "1")


def bot_request(question: str, *, fallbacks: tuple[str, ...] = ()) -> ChatRequest:
    profile = answering.AiProfile(
        workspace_id="ws_demo",
        workspace_name="Acme Outdoor Gear",
        model="openai/gpt-4o-mini",
        fallback_models=fallbacks,
    )
    transcript = [answering.Turn("bot", "Sure - what would you like to know?")]
    return answering.build_answer_request(profile, demo_index(), question, transcript)


def body_of(request: ChatRequest, **changes: Any) -> bytes:
    body = request_body(request)
    body.update(changes)
    return json.dumps(body).encode()


def decision(completion: model.Completion) -> dict[str, Any]:
    content = completion.body["choices"][0]["message"]["content"]
    return dict(json.loads(content))


# ---------------------------------------------------------------- answers


def test_answers_with_the_first_two_sentences_of_the_best_entry() -> None:
    body = body_of(bot_request("How long does shipping take?"))
    answer = model.chat_completions(AUTH, body, now=1_700_000_000)

    assert answer.status == 200
    assert decision(answer) == {
        "answer": model.first_sentences(SHIPPING["content"]),
        "handoff": False,
        "confidence": 0.8,
    }
    assert decision(answer)["answer"].startswith("We ship every order within one business day.")
    choice = answer.body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert answer.body["model"] == "openai/gpt-4o-mini"
    assert answer.body["created"] == 1_700_000_000
    assert answer.body["id"].startswith("gen-local-")


def test_usage_is_estimated_from_lengths() -> None:
    request = bot_request("How long does shipping take?")
    answer = model.chat_completions(AUTH, body_of(request))
    usage = answer.body["usage"]
    prompt_chars = sum(len(m.content) for m in request.messages)
    content = answer.body["choices"][0]["message"]["content"]
    assert usage["prompt_tokens"] == -(-prompt_chars // 4)
    assert usage["completion_tokens"] == -(-len(content) // 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    expected_cost = usage["prompt_tokens"] * 0.15e-6 + usage["completion_tokens"] * 0.6e-6
    assert usage["cost"] == pytest.approx(expected_cost)


def test_the_same_request_gets_the_same_answer() -> None:
    body = body_of(bot_request("Can I return an unused tent?"))
    first = model.chat_completions(AUTH, body, now=1)
    assert model.chat_completions(AUTH, body, now=1) == first
    assert decision(first)["answer"].startswith("You can return any unused item")


def test_a_question_no_entry_shares_a_word_with_is_handed_off() -> None:
    request = bot_request("Do you sell bicycles?")
    assert "(none)" in request.messages[0].content  # retrieval found nothing to send
    answer = model.chat_completions(AUTH, body_of(request))
    assert answer.status == 200
    assert decision(answer) == {"answer": "", "handoff": True, "confidence": 0.1}
    assert answer.body["choices"][0]["finish_reason"] == "stop"


def test_the_entry_sharing_the_most_words_wins_and_the_first_wins_a_tie() -> None:
    entries = [
        model.Entry("Returns", "Returns are free. Ask us. Really."),
        model.Entry("Payment", "We accept cards and PayPal. Payment is taken on shipping."),
        model.Entry("Cards", "Cards work. Any card."),
    ]
    assert model.best_entry(entries, "Do you accept PayPal payment?") == entries[1]
    assert model.best_entry(entries, "cards?") == entries[1]  # tie with "Cards": first listed
    assert model.best_entry(entries, "Is the weather nice?") is None
    assert model.best_entry([], "anything") is None


def test_the_decision_is_taken_from_the_last_user_message() -> None:
    system = "Rules.\n\nKnowledge entries:\n[Warranty]\nTwo years. Free repair. Keep the box."
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "Is there a warranty?"},
        {"role": "assistant", "content": "Two years. Free repair."},
        {"role": "user", "content": "Do you sell bicycles?"},
    ]
    assert model.decide(messages)["handoff"] is True
    assert model.decide(messages[:2]) == {
        "answer": "Two years. Free repair.",
        "handoff": False,
        "confidence": 0.8,
    }


def test_knowledge_entries_are_read_as_answering_writes_them() -> None:
    request = bot_request("Returns, refunds and payment by card?")
    entries = model.knowledge_entries(request.messages[0].content)
    titles = {e["title"]: e["content"] for e in demo_knowledge()}
    assert entries
    for entry in entries:
        assert titles[entry.title] == entry.content
    assert model.knowledge_entries("Knowledge entries:\n(none)") == []
    assert model.knowledge_entries("no entries heading at all") == []
    blocks = "Knowledge entries:\n[A]\nFirst line.\n\nSecond paragraph.\n\n[B]\nMail [email]."
    assert model.knowledge_entries(blocks) == [
        model.Entry("A", "First line.\n\nSecond paragraph."),
        model.Entry("B", "Mail [email]."),
    ]


def test_content_words_and_sentences() -> None:
    assert model.content_words("How long does shipping TAKE? Takes, ships!") == {
        "long",
        "shipping",
        "take",
        "ship",
    }
    assert model.content_words("Livraison rapide à Zürich") == {"livraison", "rapide", "zurich"}
    assert model.first_sentences("One. Two! Three? Four.") == "One. Two!"
    assert model.first_sentences("Only one") == "Only one"


def test_an_answer_over_max_tokens_is_cut_with_finish_reason_length() -> None:
    answer = model.chat_completions(
        AUTH, body_of(bot_request("How long does shipping take?"), max_tokens=5)
    )
    choice = answer.body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["content"]) == 20
    assert answer.body["usage"]["completion_tokens"] == 5


# ---------------------------------------------------------------- the contract it enforces


@pytest.mark.parametrize(
    "authorization",
    [None, "", model.LOCAL_API_KEY, "Bearer sk-or-v1-wrong", f"bearer {model.LOCAL_API_KEY}"],
)
def test_a_missing_or_wrong_key_is_401(authorization: str | None) -> None:
    answer = model.chat_completions(authorization, body_of(bot_request("shipping?")))
    assert answer.status == 401
    assert answer.body["error"]["code"] == 401


@pytest.mark.parametrize(
    "provider",
    [None, {}, {"data_collection": "allow"}, {"data_collection": "DENY"}, "deny"],
)
def test_a_body_without_data_collection_deny_is_refused(provider: Any) -> None:
    body = request_body(bot_request("How long does shipping take?"))
    if provider is None:
        del body["provider"]
    else:
        body["provider"] = provider
    answer = model.chat_completions(AUTH, json.dumps(body).encode())
    assert answer.status == 400
    assert "data_collection" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({"provider": {"data_collection": "deny"}, "messages": []}).encode(),
        json.dumps(
            {"provider": {"data_collection": "deny"}, "model": "m", "messages": []}
        ).encode(),
        json.dumps(
            {
                "provider": {"data_collection": "deny"},
                "model": "m",
                "messages": [{"role": "tool", "content": "x"}],
            }
        ).encode(),
        json.dumps(
            {
                "provider": {"data_collection": "deny"},
                "model": "m",
                "messages": [{"role": "user", "content": ["parts"]}],
            }
        ).encode(),
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    answer = model.chat_completions(AUTH, body)
    assert answer.status == 400
    assert set(answer.body["error"]) == {"code", "message"}


# ---------------------------------------------------------------- through the real client


def client_for(key: str = model.LOCAL_API_KEY) -> OpenRouterClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == model.COMPLETIONS_PATH
        answer = model.chat_completions(request.headers.get("authorization"), request.content)
        return httpx.Response(answer.status, json=answer.body)

    return OpenRouterClient(
        key,
        referer="https://yoosr.example",
        title="Yoosr",
        base_url=f"http://127.0.0.1:3000{model.BASE_PATH}",
        transport=httpx.MockTransport(handler),
    )


def test_the_bot_client_gets_an_answer_it_accepts() -> None:
    request = bot_request("How long does shipping take?", fallbacks=("anthropic/claude-3.5-haiku",))
    with client_for() as client:
        result = client.complete(request)
    assert isinstance(result, AiSuccess)
    assert result.model == "openai/gpt-4o-mini" and result.finish_reason == "stop"
    assert result.usage is not None and result.usage.cost is not None
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    decided = answering.decide(result, [])
    assert decided == Answer(text=model.first_sentences(SHIPPING["content"]), source="ai")

    with client_for() as client:
        unanswerable = client.complete(bot_request("Do you sell bicycles?"))
    assert isinstance(answering.decide(unanswerable, []), NoAnswer)
    assert answering.decide(unanswerable, []) == NoAnswer("no_answer", "model_handoff")


def test_the_bot_client_with_a_wrong_key_fails_as_unauthorized() -> None:
    with client_for("sk-or-v1-someone-else") as client:
        result = client.complete(bot_request("How long does shipping take?"))
    assert isinstance(result, AiFailure) and result.kind == "unauthorized"
