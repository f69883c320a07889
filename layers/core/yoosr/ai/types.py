"""Requests to and results from a chat-completions model, independent of the HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Role = Literal["system", "user", "assistant"]

FailureKind = Literal[
    "bad_request",  # 400 and other 4xx: our request is wrong
    "unauthorized",  # 401: bad or disabled key
    "no_credits",  # 402
    "forbidden",  # 403: moderation or guardrail block
    "timeout",  # 408, our own deadline, or an httpx timeout
    "rate_limited",  # 429
    "model_unavailable",  # 502: model down or invalid upstream response
    "no_provider",  # 503: no provider meets the routing requirements (data_collection=deny)
    "server_error",  # other 5xx
    "model_error",  # an error object in a 200 response whose code says nothing more
    "connection_error",  # DNS, TCP, TLS, protocol
    "invalid_response",  # not JSON, or not the documented shape
    "empty_content",  # a 200 without text
    "internal_error",  # a bug of ours, caught so the caller still gets a result
]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    # Tried in order after `model` when it fails (OpenRouter's `models`).
    fallback_models: tuple[str, ...] = ()
    max_tokens: int = 400
    temperature: float = 0.2
    # A JSON schema for structured output (OpenRouter's response_format json_schema).
    response_schema: Mapping[str, Any] | None = None
    schema_name: str = "reply"

    def __repr__(self) -> str:  # messages hold visitor text: keep them out of logs
        return (
            f"ChatRequest(model={self.model!r}, fallback_models={self.fallback_models!r}, "
            f"messages=<{len(self.messages)} hidden>, max_tokens={self.max_tokens})"
        )


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # OpenRouter credits; None when the response did not say.
    cost: float | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class AiSuccess:
    content: str
    # The model that served, which may be a fallback; billing and analytics use this one.
    model: str
    requested_model: str
    finish_reason: str | None
    usage: Usage | None
    latency_ms: int
    generation_id: str | None = None

    @property
    def fell_back(self) -> bool:
        return self.model != self.requested_model

    def __repr__(self) -> str:
        return (
            f"AiSuccess(model={self.model!r}, finish_reason={self.finish_reason!r}, "
            f"content=<{len(self.content)} chars>, usage={self.usage!r}, "
            f"latency_ms={self.latency_ms})"
        )


@dataclass(frozen=True)
class AiFailure:
    kind: FailureKind
    retryable: bool
    # HTTP status of the response (200 for an error inside a 200), None without a response.
    status: int | None
    latency_ms: int
    # OpenRouter's error.code when the body had one.
    error_code: int | None = None
    # OpenRouter's error.message, truncated; never the metadata (it can quote flagged input).
    message: str = ""
    # Tokens may have been spent before a mid-generation error: count them against budgets.
    usage: Usage | None = field(default=None)


AiResult: TypeAlias = AiSuccess | AiFailure
