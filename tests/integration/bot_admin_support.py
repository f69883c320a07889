"""Support for the bot admin suites: the bot_reply handler trusting the shared development
issuer, an organization that calls it with the samples in events/bot_reply_*.json, a demo flow
and knowledge entries, and readers of what was stored."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.integration.dashboard_support import (
    DASHBOARD_ORIGIN,
    Org,
    configure_dashboard_env,
    dev_issuer,
    stored,
    stored_with_prefix,
)
from tests.support import HttpHandlerClient, Response, load_function
from yoosr.settings import BotAdminSettings, get_settings
from yoosr.store import aws

SHOP_ORIGIN = "https://shop.acme.test"

DEMO_FLOW: dict[str, Any] = {
    "name": "Welcome",
    "start_step": "greet",
    "default_department_id": "dept_support",
    "handoff_message": "Let me connect you with someone from our team.",
    "steps": [
        {"id": "greet", "type": "message", "text": "Hi! I'm the Acme bot.", "next": "menu"},
        {
            "id": "menu",
            "type": "buttons",
            "text": "What can I help with?",
            "on_other": "ask",
            "options": [
                {"label": "Ask a question", "value": "question", "next": "ask"},
                {"label": "Talk to sales", "value": "sales", "next": "sales_open"},
            ],
        },
        {
            "id": "sales_open",
            "type": "condition",
            "match": "all",
            "rules": [{"kind": "business_hours_open"}, {"kind": "agents_online"}],
            "then": "ask_email",
            "else": "offline",
        },
        {
            "id": "ask_email",
            "type": "collect",
            "field": "email",
            "attribute": "email",
            "prompt": "Your email?",
            "invalid_prompt": "That doesn't look like an email.",
            "max_attempts": 2,
            "next": "tag",
            "on_fail": "to_sales",
        },
        {
            "id": "tag",
            "type": "set_attribute",
            "attribute": "lead",
            "value": "sales",
            "next": "to_sales",
        },
        {
            "id": "to_sales",
            "type": "handoff",
            "department_id": "dept_sales",
            "message": "Connecting you to sales.",
        },
        {"id": "offline", "type": "message", "text": "Sales is offline.", "next": "bye"},
        {"id": "bye", "type": "close", "message": "We'll write to you tomorrow."},
        {
            "id": "ask",
            "type": "ai_answer",
            "prompt": "What would you like to know?",
            "on_no_answer": "to_support",
        },
        {"id": "to_support", "type": "handoff", "message": "Let me find a colleague."},
    ],
}

KNOWLEDGE: list[dict[str, Any]] = [
    {
        "title": "Shipping to Norway",
        "content": "Yes, we ship to Norway: delivery takes 3-5 working days. "
        "Track it at https://shop.acme.test/track or https://evil.example/track.",
        "tags": ["delivery", "international"],
    },
    {
        "title": "Returns",
        "content": "You can return any item within 30 days for a full refund.",
        "tags": ["refund"],
    },
    {
        "title": "Opening hours",
        "content": "Our team answers chats Monday to Friday, 9:00 to 17:00.",
        "tags": [],
    },
]


@cache
def _client(stack_id: int) -> HttpHandlerClient:
    return HttpHandlerClient(load_function("bot_reply").lambda_handler)


def bot_client(stack: Any) -> HttpHandlerClient:
    configure_dashboard_env(stack, "BotReplyFunction")
    client = _client(id(stack))
    assert get_settings(BotAdminSettings).clerk_pem_public_key == dev_issuer().public_pem
    return client


@dataclass
class BotOrg(Org):
    """An organization calling the bot_reply function (samples events/bot_reply_*.json)."""

    def call(self, sample: str, token: str, **kwargs: Any) -> Response:
        headers = {
            "authorization": f"Bearer {token}",
            "origin": DASHBOARD_ORIGIN,
            **kwargs.pop("headers", {}),
        }
        return self.client.call(f"bot_reply_{sample}", headers=headers, **kwargs)

    def create_flow(self, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        response = self.admin("create_flow", json_body={**(body or DEMO_FLOW), **extra})
        assert response.status == 201, response.body
        return dict(response.json)

    def create_entry(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.admin("create_knowledge", json_body=body)
        assert response.status == 201, response.body
        return dict(response.json)


def config_item(stack: Any, ws: str) -> dict[str, Any] | None:
    return stored(stack, ws, "BOT")


def flow_items(stack: Any, ws: str) -> list[dict[str, Any]]:
    return stored_with_prefix(stack, ws, "FLOW#")


def knowledge_items(stack: Any, ws: str) -> list[dict[str, Any]]:
    return stored_with_prefix(stack, ws, "KB#")


WRITE_OPERATIONS = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "ExecuteStatement",
    "ExecuteTransaction",
    "BatchExecuteStatement",
}


@dataclass
class Recorder:
    calls: list[tuple[str, str, dict[str, Any]]]

    @property
    def operations(self) -> list[str]:
        return [operation for _, operation, _ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


def record_dynamodb() -> Iterator[Recorder]:
    """Every DynamoDB call made while the generator is suspended (a fixture body)."""
    recorder = Recorder([])

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        recorder.calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    client = aws.client("dynamodb")
    client.meta.events.register("provide-client-params.*.*", record)
    try:
        yield recorder
    finally:
        client.meta.events.unregister("provide-client-params.*.*", record)
