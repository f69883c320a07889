"""A local stand-in for OpenRouter's chat completions: a development tool, as moto is for AWS.
It exists only in the local stack (`YOOSR_LOCAL_MODEL=local`) and is never deployed.

The local API serves it at `POST /_local/openrouter/api/v1/chat/completions`; the stack points
the functions that read the OpenRouter key parameter at `<api_url>/_local/openrouter/api/v1`
and stores LOCAL_API_KEY in moto's SSM under LOCAL_KEY_PARAMETER. It speaks the contract
`yoosr.ai.openrouter` uses, and holds the caller to it:

- `Authorization: Bearer <LOCAL_API_KEY>`, else 401;
- a JSON object with `model`, `messages` (`role` and string `content` each) and
  `provider.data_collection == "deny"` (the privacy promise: no provider that stores or trains
  on prompts), else 400; errors come as OpenRouter's `{"error": {"code", "message"}}`.

It answers deterministically, with no model at all: it reads the knowledge entries from the
system message (the `[title]\\ncontent` blocks after "Knowledge entries:", as
`yoosr.bot.answering` writes them), picks the entry sharing the most content words with the last
user message (the first listed wins a tie), and replies with the decision JSON the bot asks for:
`{"answer": <the entry's first two sentences>, "handoff": false, "confidence": 0.8}`, or
`{"answer": "", "handoff": true, "confidence": 0.1}` when no entry shares a word. The
response carries `model` (the requested one), `finish_reason` "stop" ("length", with the
content cut, when the answer is over `max_tokens`) and a `usage` block estimated from lengths
(4 characters a token) with a cost at LOCAL_PRICES.

Nothing here logs or keeps prompts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODES = ("off", "local", "openrouter")
"""YOOSR_LOCAL_MODEL: no model (knowledge base, else handoff), this stand-in, the real
OpenRouter (with OPENROUTER_API_KEY)."""

LOCAL_KEY_PARAMETER = "/yoosr/local/openrouter-api-key"
"""The SSM SecureString (in moto) that holds the key in the `local` and `openrouter` modes."""

LOCAL_API_KEY = "sk-or-v1-yoosr-local-stand-in-not-a-real-key"
"""The only key the stand-in accepts. Not a secret: it opens nothing but this stand-in."""

BASE_PATH = "/_local/openrouter/api/v1"
COMPLETIONS_PATH = f"{BASE_PATH}/chat/completions"

CHARS_PER_TOKEN = 4
# USD per token (prompt, completion): gpt-4o-mini's list prices, so costs look plausible.
LOCAL_PRICES = (0.15 / 1_000_000, 0.60 / 1_000_000)
ANSWER_CONFIDENCE = 0.8
HANDOFF_CONFIDENCE = 0.1

_ENTRIES_HEADING = "Knowledge entries:\n"
_ENTRY_START = re.compile(r"\n\n(?=\[[^\]\n]+\]\n)")
_ENTRY = re.compile(r"^\[(?P<title>[^\]\n]+)\]\n(?P<content>.*)$", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W_]+")
_FUNCTION_WORDS = (
    "about all also and any are ask but can could did does for from get got had has have "
    "hello hey how into its just know may much need not off our please that the their "
    "them then there these they this tell thank thanks was what when where which who why "
    "will with would you your yours"
)
_STOPWORDS = frozenset(_FUNCTION_WORDS.split(" "))


@dataclass(frozen=True)
class Entry:
    title: str
    content: str


@dataclass(frozen=True)
class Completion:
    """An HTTP answer: status and JSON body."""

    status: int
    body: dict[str, Any]


def _error(status: int, message: str) -> Completion:
    return Completion(status, {"error": {"code": status, "message": message}})


def content_words(text: str) -> set[str]:
    """Case- and accent-folded words of three letters or more, minus common function words,
    with a plural "s" dropped ("takes" and "take" are one word)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = set()
    for word in _WORD.findall(bare):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        plural = len(word) > 3 and word.endswith("s") and not word.endswith("ss")
        words.add(word[:-1] if plural else word)
    return words


def knowledge_entries(system: str) -> list[Entry]:
    """The entries of a system prompt built by `yoosr.bot.answering` ("(none)" → [])."""
    _, heading, block = system.rpartition(_ENTRIES_HEADING)
    if not heading or block.strip() == "(none)":
        return []
    entries = []
    for part in _ENTRY_START.split(block.strip("\n")):
        match = _ENTRY.match(part)
        if match:
            entries.append(Entry(match["title"].strip(), match["content"].strip()))
    return entries


def first_sentences(text: str, count: int = 2) -> str:
    return " ".join(_SENTENCE_END.split(text.strip())[:count])


def best_entry(entries: Sequence[Entry], question: str) -> Entry | None:
    """The entry sharing the most content words with the question; the first on a tie; None
    when none shares any."""
    asked = content_words(question)
    best: Entry | None = None
    best_shared = 0
    for entry in entries:
        shared = len(asked & content_words(f"{entry.title}\n{entry.content}"))
        if shared > best_shared:
            best, best_shared = entry, shared
    return best


def decide(messages: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The decision JSON for a conversation (system prompt first, question last)."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    entry = best_entry(knowledge_entries(system), question)
    if entry is None:
        return {"answer": "", "handoff": True, "confidence": HANDOFF_CONFIDENCE}
    return {
        "answer": first_sentences(entry.content),
        "handoff": False,
        "confidence": ANSWER_CONFIDENCE,
    }


def _tokens(chars: int) -> int:
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def _messages(raw: Any) -> list[dict[str, str]] | None:
    if not isinstance(raw, list) or not raw:
        return None
    messages = []
    for message in raw:
        if not isinstance(message, Mapping):
            return None
        role, content = message.get("role"), message.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            return None
        messages.append({"role": str(role), "content": content})
    return messages


def chat_completions(
    authorization: str | None,
    body: bytes,
    *,
    api_key: str = LOCAL_API_KEY,
    now: float | None = None,
) -> Completion:
    """Answer one `POST /chat/completions` (headers and raw body in, status and JSON out)."""
    if authorization != f"Bearer {api_key}":
        return _error(401, "Missing or invalid API key (the local stand-in takes its own key).")
    try:
        request = json.loads(body)
    except ValueError:
        return _error(400, "The body is not JSON.")
    if not isinstance(request, dict):
        return _error(400, "The body must be a JSON object.")
    provider = request.get("provider")
    if not isinstance(provider, Mapping) or provider.get("data_collection") != "deny":
        return _error(
            400,
            'provider.data_collection must be "deny": Yoosr promises that no provider stores '
            "or trains on conversation data.",
        )
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "`model` is required.")
    messages = _messages(request.get("messages"))
    if messages is None:
        return _error(400, "`messages` must be a non-empty list of {role, content} objects.")
    max_tokens = request.get("max_tokens")
    content = json.dumps(decide(messages))
    finish_reason = "stop"
    if isinstance(max_tokens, int) and 0 < max_tokens < _tokens(len(content)):
        content, finish_reason = content[: max_tokens * CHARS_PER_TOKEN], "length"
    prompt_tokens = _tokens(sum(len(m["content"]) for m in messages))
    completion_tokens = _tokens(len(content))
    prompt_price, completion_price = LOCAL_PRICES
    digest = hashlib.sha256(body).hexdigest()[:24]
    return Completion(
        200,
        {
            "id": f"gen-local-{digest}",
            "object": "chat.completion",
            "created": int(time.time() if now is None else now),
            "model": model,
            "provider": "yoosr-local",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish_reason,
                    "native_finish_reason": finish_reason,
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": round(
                    prompt_tokens * prompt_price + completion_tokens * completion_price, 10
                ),
            },
        },
    )
