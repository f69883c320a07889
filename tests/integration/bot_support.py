"""Bot test support: the bot_reply_events consumer configured from the template, the demo flow
and knowledge base (the ones `make dev` seeds) written through the bot store, and a scripted
OpenRouter (httpx MockTransport) for the model path."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from local.resources import function_environment
from local.seed import seed_bot
from local.template import load_template
from tests.integration.routing_support import StreamTap
from tests.integration.widget_support import Visitor
from tests.support import ROOT
from yoosr.bot import reply
from yoosr.settings import BotReplyEventsSettings, get_settings

DEMO = json.loads((ROOT / "local" / "demo_bot.json").read_text())
KEY_PARAMETER = "/yoosr/test/openrouter-api-key"
FAKE_KEY = "sk-or-v1-test-key-not-real"


def configure_bot_env(stack: Any) -> None:
    template = load_template(ROOT / "template.yaml")
    env = function_environment(template, "BotReplyEventsFunction", stack.resources)
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    env["YOOSR_BURST_SECONDS"] = "0"
    os.environ.update(env)


def seed_demo(stack: Any, ws: str) -> str:
    """The demo flow (greeting flow) and knowledge entries, seeded exactly as `make dev` seeds
    them (local.seed.seed_bot); returns the flow id."""
    return seed_bot(stack.table("WorkspacesTable"), ws)


def decision(answer: str, *, handoff: bool = False, confidence: float = 0.9) -> str:
    return json.dumps({"answer": answer, "handoff": handoff, "confidence": confidence})


def completion(content: str, *, model: str = "openai/gpt-4o-mini", tokens: int = 120) -> Any:
    return {
        "id": "gen-test",
        "model": model,
        "choices": [
            {"finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": {
            "prompt_tokens": tokens - 20,
            "completion_tokens": 20,
            "total_tokens": tokens,
            "cost": 0.00012,
        },
    }


@dataclass
class FakeOpenRouter:
    """Answers chat completions with `respond(request) -> httpx.Response`; keeps every request."""

    respond: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def use_model(monkeypatch: Any, module: Any, fake: FakeOpenRouter) -> None:
    """Point the consumer at `fake` with a key stored as an SSM SecureString (moto)."""
    boto3.client("ssm").put_parameter(
        Name=KEY_PARAMETER, Value=FAKE_KEY, Type="SecureString", Overwrite=True
    )
    settings = get_settings(BotReplyEventsSettings).model_copy(
        update={"openrouter_api_key_parameter": KEY_PARAMETER}
    )
    port = reply.openrouter_port(settings, transport=httpx.MockTransport(fake.handler))
    monkeypatch.setattr(module, "ai", port)


def bot_tap(stack: Any) -> StreamTap:
    return StreamTap(stack, "BotReplyEventsFunction")


def say(visitor: Visitor, conversation_id: str, text: str, value: str | None = None) -> None:
    """A visitor message; `value` is a tapped quick reply's."""
    body: dict[str, Any] = {"client_message_id": str(uuid.uuid4()), "text": text}
    if value is not None:
        body["reply_value"] = value
    response = visitor.call(
        "widget_post_message", path_params={"conversation_id": conversation_id}, json_body=body
    )
    assert response.status == 201, response.body
