"""OpenRouter chat completions over httpx, with every fault turned into a typed result.

`OpenRouterClient.complete(request)` returns `AiSuccess` or `AiFailure`, never raises: the bot
hands off on any failure. It POSTs `{base_url}/chat/completions` with `Authorization: Bearer`,
the `HTTP-Referer` and `X-Title` attribution headers, and a body built by `request_body`.

Time: every attempt gets httpx connect/read/write timeouts capped by what is left of one total
deadline (`Timeouts.total`), and the body is read in chunks with the deadline checked after
each, so a server that trickles bytes cannot hold the function past it. A 402, 429 or 503 with a
`Retry-After` in seconds is retried (at most `max_retries` times) only when the wait plus
`Timeouts.min_attempt` still fits before the deadline; otherwise the failure is returned.

A 200 is not proof of an answer: OpenRouter reports errors that happen after the model started
as an `error` object in a 200 body (or on the choice, with finish_reason "error").

The key is held privately and appears in no repr, result or message; prompts are never logged
(this module does not log at all: the caller logs the typed result).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from yoosr.ai.types import AiFailure, AiResult, AiSuccess, ChatRequest, FailureKind, Usage

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
MAX_RESPONSE_BYTES = 1_048_576
MAX_MESSAGE_CHARS = 200

_STATUS_KINDS: dict[int, FailureKind] = {
    400: "bad_request",
    401: "unauthorized",
    402: "no_credits",
    403: "forbidden",
    408: "timeout",
    429: "rate_limited",
    502: "model_unavailable",
    503: "no_provider",
}
_RETRYABLE: frozenset[FailureKind] = frozenset(
    {
        "timeout",
        "rate_limited",
        "model_unavailable",
        "no_provider",
        "server_error",
        "model_error",
        "connection_error",
        "invalid_response",
        "empty_content",
    }
)
# Statuses on which OpenRouter documents a Retry-After header.
_RETRY_AFTER_STATUSES = frozenset({402, 429, 503})


@dataclass(frozen=True)
class Timeouts:
    """Seconds. Keep `total` well under the function timeout so a handoff still fits after it."""

    connect: float = 2.0
    read: float = 8.0
    write: float = 2.0
    total: float = 10.0
    # Retrying after Retry-After is worth it only with at least this long left for the attempt.
    min_attempt: float = 2.0


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body for POST /chat/completions."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        # Only providers that neither store nor train on prompts: the privacy policy promises
        # conversation data is never used for training. With none available OpenRouter fails
        # the request (503) rather than relaxing this.
        "provider": {"data_collection": "deny"},
    }
    if request.fallback_models:
        # OpenRouter tries `models` in priority order; listing the primary first keeps that
        # order whether `models` is read as the whole list or as what follows `model`.
        body["models"] = list(dict.fromkeys((request.model, *request.fallback_models)))
    if request.response_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.schema_name,
                "strict": True,
                "schema": dict(request.response_schema),
            },
        }
    return body


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    cost = raw.get("cost")
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        total_tokens=_int(raw.get("total_tokens")),
        cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        cached_tokens=_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, Mapping)
        else 0,
        reasoning_tokens=_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, Mapping)
        else 0,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Delta-seconds only: an HTTP-date would need the wall clock, and we give up instead."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _content(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return None
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):  # content parts, as some providers return them
        texts = [part.get("text") for part in content if isinstance(part, Mapping)]
        return "".join(text for text in texts if isinstance(text, str))
    return None


class _Attempt:
    """One HTTP exchange: a result, and the Retry-After that came with a failure."""

    def __init__(self, result: AiResult, retry_after: float | None = None) -> None:
        self.result = result
        self.retry_after = retry_after


class OpenRouterClient:
    """Reuse one client per warm Lambda (connection pooling); build a new one when the key
    rotates."""

    def __init__(
        self,
        api_key: str,
        *,
        referer: str,
        title: str,
        base_url: str = DEFAULT_BASE_URL,
        timeouts: Timeouts | None = None,
        max_retries: int = 1,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("an OpenRouter API key is required")
        self.__key = api_key
        self._referer = referer
        self._title = title
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._timeouts = timeouts or Timeouts()
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        # trust_env=False: no proxy or netrc settings picked up from the environment.
        self._http = httpx.Client(transport=transport, trust_env=False, follow_redirects=False)

    def __repr__(self) -> str:
        return f"OpenRouterClient(url={self._url!r}, api_key=<hidden>)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenRouterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.__key}",
            "HTTP-Referer": self._referer,
            "X-Title": self._title,
            "Accept": "application/json",
        }

    def complete(self, request: ChatRequest) -> AiResult:
        started = self._clock()
        deadline = started + self._timeouts.total
        body = request_body(request)
        retries = 0
        while True:
            try:
                attempt = self._attempt(request, body, started, deadline)
            except Exception:  # the contract is a result, never an exception
                return AiFailure("internal_error", False, None, self._elapsed(started))
            wait = attempt.retry_after
            if (
                isinstance(attempt.result, AiFailure)
                and wait is not None
                and retries < self._max_retries
                and self._clock() + wait + self._timeouts.min_attempt <= deadline
            ):
                retries += 1
                self._sleep(wait)
                continue
            return attempt.result

    def _elapsed(self, started: float) -> int:
        return max(0, round((self._clock() - started) * 1000))

    def _failure(
        self,
        kind: FailureKind,
        started: float,
        status: int | None = None,
        error: Mapping[str, Any] | None = None,
        usage: Usage | None = None,
    ) -> AiFailure:
        code = error.get("code") if error else None
        message = error.get("message") if error else None
        retryable = kind in _RETRYABLE
        return AiFailure(
            kind=kind,
            retryable=retryable,
            status=status,
            latency_ms=self._elapsed(started),
            error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            message=message[:MAX_MESSAGE_CHARS] if isinstance(message, str) else "",
            usage=usage,
        )

    def _attempt(
        self, request: ChatRequest, body: dict[str, Any], started: float, deadline: float
    ) -> _Attempt:
        remaining = deadline - self._clock()
        if remaining <= 0:
            return _Attempt(self._failure("timeout", started))
        limits = self._timeouts
        timeout = httpx.Timeout(
            connect=min(limits.connect, remaining),
            read=min(limits.read, remaining),
            write=min(limits.write, remaining),
            pool=min(limits.connect, remaining),
        )
        try:
            with self._http.stream(
                "POST", self._url, json=body, headers=self._headers(), timeout=timeout
            ) as response:
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_RESPONSE_BYTES:
                        return _Attempt(
                            self._failure("invalid_response", started, response.status_code)
                        )
                    if self._clock() > deadline:
                        return _Attempt(self._failure("timeout", started, response.status_code))
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("retry-after"))
        except httpx.TimeoutException:
            return _Attempt(self._failure("timeout", started))
        except httpx.DecodingError:
            return _Attempt(self._failure("invalid_response", started))
        except httpx.HTTPError:
            return _Attempt(self._failure("connection_error", started))
        if self._clock() > deadline:
            return _Attempt(self._failure("timeout", started, status))

        try:
            payload = json.loads(bytes(raw))
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, Mapping) else None

        if status != 200:
            kind = _STATUS_KINDS.get(status) or ("server_error" if status >= 500 else "bad_request")
            failure = self._failure(kind, started, status, error)
            return _Attempt(failure, retry_after if status in _RETRY_AFTER_STATUSES else None)
        return _Attempt(self._parse_success(request, payload, error, started))

    def _parse_success(
        self,
        request: ChatRequest,
        payload: Any,
        error: Mapping[str, Any] | None,
        started: float,
    ) -> AiResult:
        if not isinstance(payload, dict):
            return self._failure("invalid_response", started, 200)
        usage = parse_usage(payload.get("usage"))
        if error is not None:
            return self._failure(_error_kind(error), started, 200, error, usage)
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            return self._failure("invalid_response", started, 200, usage=usage)
        choice = choices[0]
        choice_error = choice.get("error")
        if isinstance(choice_error, Mapping):
            return self._failure(_error_kind(choice_error), started, 200, choice_error, usage)
        finish_reason = choice.get("finish_reason")
        if finish_reason == "error":
            return self._failure("model_error", started, 200, usage=usage)
        content = _content(choice.get("message"))
        if content is None:
            return self._failure("invalid_response", started, 200, usage=usage)
        if not content.strip():
            return self._failure("empty_content", started, 200, usage=usage)
        served = payload.get("model")
        generation = payload.get("id")
        return AiSuccess(
            content=content,
            model=served if isinstance(served, str) and served else request.model,
            requested_model=request.model,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            usage=usage,
            latency_ms=self._elapsed(started),
            generation_id=generation if isinstance(generation, str) else None,
        )


def _error_kind(error: Mapping[str, Any]) -> FailureKind:
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        if code in _STATUS_KINDS:
            return _STATUS_KINDS[code]
        if code >= 500:
            return "server_error"
    return "model_error"
