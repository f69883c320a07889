"""OpenRouter client contract: the request exactly as OpenRouter documents it, response parsing,
and every fault as a typed failure (never an exception), over an httpx mock transport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from yoosr.ai.openrouter import OpenRouterClient, Timeouts, parse_retry_after, request_body
from yoosr.ai.types import AiFailure, AiSuccess, ChatMessage, ChatRequest, Usage

KEY = "sk-or-v1-secret-test-key-0123456789"
PROMPT = "My order 555 never arrived, what now?"
REQUEST = ChatRequest(
    model="openai/gpt-4o-mini",
    fallback_models=("anthropic/claude-3.5-haiku", "mistralai/mistral-small"),
    messages=(ChatMessage("system", "You are helpful."), ChatMessage("user", PROMPT)),
    max_tokens=300,
    temperature=0.1,
)
OK_BODY: dict[str, Any] = {
    "id": "gen-123",
    "model": "anthropic/claude-3.5-haiku",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "native_finish_reason": "end_turn",
            "message": {"role": "assistant", "content": "It ships tomorrow."},
        }
    ],
    "usage": {
        "prompt_tokens": 194,
        "completion_tokens": 12,
        "total_tokens": 206,
        "cost": 0.00042,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 3},
    },
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, clock: FakeClock | None = None, **kwargs: Any
) -> tuple[OpenRouterClient, list[httpx.Request], FakeClock]:
    clock = clock or FakeClock()
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = OpenRouterClient(
        KEY,
        referer="https://yoosr.example",
        title="Yoosr",
        transport=httpx.MockTransport(record),
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )
    return client, seen, clock


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body if body is not None else {}, headers=headers)

    return handler


def error_body(code: int, message: str = "boom", **metadata: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "metadata": metadata}}


# --- the request -----------------------------------------------------------------------------


def test_the_request_is_exactly_what_openrouter_documents() -> None:
    client, seen, _ = make_client(reply(200, OK_BODY))

    client.complete(REQUEST)

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://openrouter.ai/api/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["http-referer"] == "https://yoosr.example"
    assert request.headers["x-title"] == "Yoosr"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "openai/gpt-4o-mini",
        "models": [
            "openai/gpt-4o-mini",
            "anthropic/claude-3.5-haiku",
            "mistralai/mistral-small",
        ],
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": PROMPT},
        ],
        "max_tokens": 300,
        "temperature": 0.1,
        "provider": {"data_collection": "deny"},
    }


def test_structured_output_asks_for_a_strict_json_schema() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    request = ChatRequest(
        model="m", messages=(), response_schema=schema, schema_name="bot_decision"
    )

    body = request_body(request)

    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "bot_decision", "strict": True, "schema": schema},
    }
    assert "models" not in body  # no fallbacks configured
    assert body["provider"] == {"data_collection": "deny"}


def test_each_attempt_gets_timeouts_capped_by_the_deadline() -> None:
    client, seen, _ = make_client(
        reply(200, OK_BODY), timeouts=Timeouts(connect=1.5, read=30.0, write=1.0, total=6.0)
    )

    client.complete(REQUEST)

    assert seen[0].extensions["timeout"] == {
        "connect": 1.5,
        "read": 6.0,
        "write": 1.0,
        "pool": 1.5,
    }


# --- the response ----------------------------------------------------------------------------


def test_a_success_reports_content_serving_model_usage_and_latency() -> None:
    clock = FakeClock()

    def slow(request: httpx.Request) -> httpx.Response:
        clock.now += 1.25
        return httpx.Response(200, json=OK_BODY)

    client, _, _ = make_client(slow, clock)

    result = client.complete(REQUEST)

    assert result == AiSuccess(
        content="It ships tomorrow.",
        model="anthropic/claude-3.5-haiku",
        requested_model="openai/gpt-4o-mini",
        finish_reason="stop",
        usage=Usage(
            prompt_tokens=194,
            completion_tokens=12,
            total_tokens=206,
            cost=0.00042,
            cached_tokens=100,
            reasoning_tokens=3,
        ),
        latency_ms=1250,
        generation_id="gen-123",
    )
    assert result.fell_back


def test_missing_usage_and_model_are_tolerated() -> None:
    body = {"choices": [{"finish_reason": "stop", "message": {"content": "Hi"}}]}
    client, _, _ = make_client(reply(200, body))

    result = client.complete(REQUEST)

    assert isinstance(result, AiSuccess)
    assert (result.model, result.usage, result.fell_back) == ("openai/gpt-4o-mini", None, False)


def test_content_parts_are_joined() -> None:
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]}
    client, _, _ = make_client(reply(200, body))

    result = client.complete(REQUEST)

    assert isinstance(result, AiSuccess) and result.content == "ab"


# --- faults ----------------------------------------------------------------------------------

FAULTS: list[tuple[str, Handler, str, bool, int | None]] = [
    ("400 bad request", reply(400, error_body(400)), "bad_request", False, 400),
    ("401 bad key", reply(401, error_body(401)), "unauthorized", False, 401),
    ("402 no credits", reply(402, error_body(402)), "no_credits", False, 402),
    ("403 moderation", reply(403, error_body(403, flagged_input="x")), "forbidden", False, 403),
    ("404 other 4xx", reply(404, {"error": "nope"}), "bad_request", False, 404),
    ("408 timeout", reply(408, error_body(408)), "timeout", True, 408),
    ("429 rate limited", reply(429, error_body(429)), "rate_limited", True, 429),
    ("500 server", reply(500, b"Internal Server Error"), "server_error", True, 500),
    ("502 model down", reply(502, error_body(502)), "model_unavailable", True, 502),
    ("503 no provider", reply(503, error_body(503)), "no_provider", True, 503),
    ("504 gateway", reply(504, b"<html>gateway</html>"), "server_error", True, 504),
    ("200 not json", reply(200, b"<html>oops</html>"), "invalid_response", True, 200),
    ("200 json list", reply(200, [1, 2]), "invalid_response", True, 200),
    ("200 no choices", reply(200, {"id": "x", "choices": []}), "invalid_response", True, 200),
    (
        "200 no message",
        reply(200, {"choices": [{"finish_reason": "stop"}]}),
        "invalid_response",
        True,
        200,
    ),
    (
        "200 null content",
        reply(200, {"choices": [{"message": {"content": None}}]}),
        "empty_content",
        True,
        200,
    ),
    (
        "200 blank content",
        reply(200, {"choices": [{"message": {"content": "  \n"}}]}),
        "empty_content",
        True,
        200,
    ),
    (
        "200 odd content",
        reply(200, {"choices": [{"message": {"content": 42}}]}),
        "invalid_response",
        True,
        200,
    ),
    ("200 error object", reply(200, error_body(502)), "model_unavailable", True, 200),
    ("200 error 429", reply(200, error_body(429)), "rate_limited", True, 200),
    ("200 error no code", reply(200, {"error": {"message": "x"}}), "model_error", True, 200),
    (
        "200 choice error",
        reply(200, {"choices": [{"error": {"code": 500, "message": "x"}, "message": {}}]}),
        "server_error",
        True,
        200,
    ),
    (
        "200 finish error",
        reply(200, {"choices": [{"finish_reason": "error", "message": {"content": "par"}}]}),
        "model_error",
        True,
        200,
    ),
]


def _raise(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


TRANSPORT_FAULTS: list[tuple[str, Handler, str, bool, int | None]] = [
    ("connect timeout", _raise(httpx.ConnectTimeout("slow")), "timeout", True, None),
    ("read timeout", _raise(httpx.ReadTimeout("slow")), "timeout", True, None),
    ("connect error", _raise(httpx.ConnectError("refused")), "connection_error", True, None),
    ("protocol error", _raise(httpx.RemoteProtocolError("eof")), "connection_error", True, None),
    ("a bug", _raise(RuntimeError("bug")), "internal_error", False, None),
]


@pytest.mark.parametrize(
    ("handler", "kind", "retryable", "status"),
    [case[1:] for case in FAULTS + TRANSPORT_FAULTS],
    ids=[case[0] for case in FAULTS + TRANSPORT_FAULTS],
)
def test_every_fault_is_a_typed_failure(
    handler: Handler, kind: str, retryable: bool, status: int | None
) -> None:
    client, seen, _ = make_client(handler)

    result = client.complete(REQUEST)

    assert isinstance(result, AiFailure)
    assert (result.kind, result.retryable, result.status) == (kind, retryable, status)
    assert len(seen) == 1  # no Retry-After: no retry


def test_a_200_error_keeps_its_code_message_and_usage_but_not_its_metadata() -> None:
    body = error_body(403, "Input flagged", flagged_input="my secret text")
    body["usage"] = {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    client, _, _ = make_client(reply(200, body))

    result = client.complete(REQUEST)

    assert isinstance(result, AiFailure)
    assert (result.kind, result.error_code, result.message) == ("forbidden", 403, "Input flagged")
    assert result.usage == Usage(prompt_tokens=50, completion_tokens=7, total_tokens=57)
    assert "my secret text" not in repr(result)


def test_a_response_finished_after_the_deadline_is_a_timeout() -> None:
    clock = FakeClock()

    def late(request: httpx.Request) -> httpx.Response:
        clock.now += 10.5
        return httpx.Response(200, json=OK_BODY)

    client, _, _ = make_client(late, clock, timeouts=Timeouts(total=10.0))

    result = client.complete(REQUEST)

    assert isinstance(result, AiFailure)
    assert (result.kind, result.latency_ms) == ("timeout", 10500)


def test_a_trickling_body_is_cut_off_at_the_deadline() -> None:
    clock = FakeClock()
    chunks_read: list[int] = []

    class Trickle(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            for index in range(100):
                chunks_read.append(index)
                clock.now += 1.0
                yield b" "

    client, _, _ = make_client(
        lambda request: httpx.Response(200, stream=Trickle()), clock, timeouts=Timeouts(total=5)
    )

    result = client.complete(REQUEST)

    assert isinstance(result, AiFailure) and result.kind == "timeout"
    assert len(chunks_read) == 6  # stopped as soon as the deadline passed, not after 100


def test_an_oversized_body_is_refused() -> None:
    client, _, _ = make_client(reply(200, b"x" * 1_048_577))
    result = client.complete(REQUEST)
    assert isinstance(result, AiFailure) and result.kind == "invalid_response"


# --- Retry-After -----------------------------------------------------------------------------


def sequence(*handlers: Handler) -> Handler:
    queue = list(handlers)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)(request)

    return handler


@pytest.mark.parametrize("status", [429, 503, 402])
def test_retry_after_within_the_deadline_is_honoured_once(status: int) -> None:
    client, seen, clock = make_client(
        sequence(reply(status, error_body(status), {"Retry-After": "2"}), reply(200, OK_BODY))
    )

    result = client.complete(REQUEST)

    assert isinstance(result, AiSuccess)
    assert len(seen) == 2
    assert clock.sleeps == [2.0]
    assert result.latency_ms == 2000


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    client, seen, clock = make_client(
        reply(429, error_body(429), {"Retry-After": "9"}), timeouts=Timeouts(total=10.0)
    )

    result = client.complete(REQUEST)

    # 9 s wait + 2 s minimum attempt > 10 s total
    assert isinstance(result, AiFailure) and result.kind == "rate_limited"
    assert (len(seen), clock.sleeps) == (1, [])


def test_retries_are_bounded() -> None:
    client, seen, clock = make_client(reply(429, error_body(429), {"Retry-After": "1"}))

    result = client.complete(REQUEST)

    assert isinstance(result, AiFailure) and result.kind == "rate_limited"
    assert (len(seen), clock.sleeps) == (2, [1.0])


def test_retry_after_on_other_statuses_is_ignored() -> None:
    client, seen, _ = make_client(reply(502, error_body(502), {"Retry-After": "1"}))
    client.complete(REQUEST)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ("-1", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


# --- secrets ---------------------------------------------------------------------------------


def test_the_key_and_the_prompt_stay_out_of_reprs_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ok, _, _ = make_client(reply(200, OK_BODY))
    failing, _, _ = make_client(reply(401, error_body(401, "No auth credentials found")))

    texts = [repr(ok), str(ok), repr(REQUEST)]
    texts += [repr(ok.complete(REQUEST)), repr(failing.complete(REQUEST))]
    texts += [record.getMessage() for record in caplog.records]

    for text in texts:
        assert KEY not in text
        assert PROMPT not in text
        assert "ships tomorrow" not in text


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="key"):
        OpenRouterClient("", referer="r", title="t")


def test_the_client_closes() -> None:
    client, _, _ = make_client(reply(200, OK_BODY))
    with client:
        pass
    result = client.complete(REQUEST)  # a closed client is a failure, not an exception
    assert isinstance(result, AiFailure)
