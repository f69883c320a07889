"""Every AWS call the bot's turns really make (flows, knowledge, contact collection, handoff,
the model with its key and budget) is allowed by BotReplyEventsFunction's own role, resolved
with an OpenRouter key parameter configured (moto does not enforce IAM)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.template import load_template
from tests.integration.bot_support import (
    KEY_PARAMETER,
    FakeOpenRouter,
    bot_tap,
    completion,
    configure_bot_env,
    decision,
    say,
    seed_demo,
    use_model,
)
from tests.integration.test_least_privilege import allowed, required_permissions
from tests.integration.widget_support import Visitor
from tests.support import ROOT, HttpHandlerClient, load_function
from yoosr.store import aws, secrets

SERVICES = ("dynamodb", "secretsmanager", "ssm")


class Recorder(list[tuple[str, str, dict[str, Any]]]):
    """AWS calls made while `handler` (the bot's) runs: the widget's own calls are not its."""

    on = False

    def handler(self, function: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            # As if cold: cached reads (the widget's of the hash key, earlier invocations'
            # of the API key) would hide the calls this invocation makes.
            secrets._provider.cache_clear()
            secrets._ssm.cache_clear()
            self.on = True
            try:
                return function(event, context)
            finally:
                self.on = False

        return run


@pytest.fixture
def calls() -> Iterator[Recorder]:
    recorded = Recorder()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if recorded.on:
            recorded.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    for service in SERVICES:
        aws.client(service).meta.events.register("provide-client-params.*.*", record)
    yield recorded
    for service in SERVICES:
        aws.client(service).meta.events.unregister("provide-client-params.*.*", record)


def statements_with_key(stack: Any) -> list[dict[str, Any]]:
    """The role's statements as deployed with OpenRouterApiKeyParameter set."""
    template = load_template(ROOT / "template.yaml", {"OpenRouterApiKeyParameter": KEY_PARAMETER})
    role = template.resources["BotReplyEventsRole"]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = []
    for policy in role:
        statements += template.resolve(
            copy.deepcopy(policy["PolicyDocument"]["Statement"]), stack.resources
        )
    return statements


def test_bot_role_allows_every_call_the_turns_make(
    stack: Any,
    widget: HttpHandlerClient,
    workspace: dict[str, Any],
    calls: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_bot_env(stack)
    bot = load_function("bot_reply_events")
    tap = bot_tap(stack)
    seed_demo(stack, workspace["id"])
    guest = Visitor(widget, workspace["key"])
    guest.start_session()
    fake = FakeOpenRouter(lambda _: httpx.Response(200, json=completion(decision("3-5 days."))))

    conversation_id = guest.start_conversation(text=None)
    handler = calls.handler(bot.lambda_handler)
    tap.deliver(handler)  # greeting: flow, config, workspace, visitor
    say(guest, conversation_id, "Where is my order?", value="order")
    tap.deliver(handler)
    say(guest, conversation_id, "jane@example.com")  # contact stored with its keyed hash
    tap.deliver(handler)
    other = guest.start_conversation(text=None)
    tap.deliver(handler)
    say(guest, other, "Ask a question", value="question")
    tap.deliver(handler)
    use_model(monkeypatch, bot, fake)
    say(guest, other, "How long does shipping take?")  # key, budget, model
    tap.deliver(handler)
    say(guest, other, "talk to a human")
    tap.deliver(handler)
    assert len(fake.requests) == 1

    needed = {p for call in calls for p in required_permissions(stack, *call)}
    statements = statements_with_key(stack)
    assert sorted(p for p in needed if not allowed(statements, *p)) == []
