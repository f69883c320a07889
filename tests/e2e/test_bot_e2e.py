"""The bot end to end over HTTP against `python -m local`: the demo flow the stack seeds
(local/demo_bot.json) greets a new conversation, offers quick replies, answers a question and
hands off to the agents' inbox — without a model (`local_stack`: answers from the knowledge
base) and with the local OpenRouter stand-in (`local_stack_with_model`: answers from "ai").

Every bot turn waits out the consumer's burst window (YOOSR_BURST_SECONDS, 2 s) before it
writes; `drain()` returns once the turn and everything it set off (routing) are done."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import httpx
import pytest
from boto3.dynamodb.types import TypeDeserializer

from local import model
from local.seed import demo_knowledge

pytestmark = pytest.mark.e2e

CONVERSATIONS_TABLE = "yoosr-local-ConversationsTable"
GREETING = "Hi! I'm the Acme Outdoor assistant."
MENU = "What can I help you with?"
BUTTONS = [
    {"label": "Ask a question", "value": "question"},
    {"label": "Where is my order?", "value": "order"},
    {"label": "Talk to a person", "value": "human"},
]
PROMPT = "Sure - what would you like to know?"
HANDOFF = "Let me connect you with someone from our team."
SHIPPING = next(e["content"] for e in demo_knowledge() if e["title"] == "Shipping times")


class Visitor:
    """A widget visitor of a seeded workspace, with a session, in one conversation."""

    def __init__(self, stack: Any, workspace: dict[str, Any]) -> None:
        self.stack = stack
        self.workspace_id = workspace["workspace_id"]
        self.http = httpx.Client(
            base_url=stack.api_url,
            timeout=30,
            headers={
                "X-Yoosr-Widget-Key": workspace["widget_key"],
                "Origin": workspace["allowed_origins"][0],
            },
        )
        session = self.http.post("/v1/widget/sessions", json={})
        assert session.status_code == 201, session.text
        self.http.headers["Authorization"] = f"Bearer {session.json()['session_token']}"
        started = self.http.post("/v1/widget/conversations", json={})  # no message: bot greets
        assert started.status_code == 201, started.text
        assert started.json()["owner"] == "bot"
        self.conversation_id: str = started.json()["id"]
        stack.drain()

    def say(self, text: str, reply_value: str | None = None) -> None:
        body: dict[str, Any] = {"client_message_id": uuid.uuid4().hex, "text": text}
        if reply_value is not None:
            body["reply_value"] = reply_value
        posted = self.http.post(
            f"/v1/widget/conversations/{self.conversation_id}/messages", json=body
        )
        assert posted.status_code == 201, posted.text
        self.stack.drain()

    def messages(self) -> list[dict[str, Any]]:
        listed = self.http.get(f"/v1/widget/conversations/{self.conversation_id}/messages")
        assert listed.status_code == 200, listed.text
        return list(listed.json()["items"])

    def bot_said(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m["sender_type"] == "bot"]

    def conversation(self) -> dict[str, Any]:
        listed = self.http.get("/v1/widget/conversations").json()["items"]
        return next(c for c in listed if c["id"] == self.conversation_id)

    def stored(self, message_id: str) -> dict[str, Any]:
        """The message as the bot stored it (source and usage are not shown to visitors)."""
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.stack.aws_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        item = dynamodb.get_item(
            TableName=CONVERSATIONS_TABLE,
            Key={
                "pk": {"S": f"{self.workspace_id}#CONV#{self.conversation_id}"},
                "sk": {"S": f"MSG#{message_id}"},
            },
        )["Item"]
        deserialize = TypeDeserializer().deserialize
        return {name: deserialize(value) for name, value in item.items()}


def agent_client(stack: Any, workspace: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {workspace['agent_token']}", "Origin": stack.api_url},
    )


def greeted_and_asked(visitor: Visitor) -> None:
    """The demo flow's first two turns: greeting with the menu, then "Ask a question"."""
    said = visitor.bot_said()
    assert [m["text"] for m in said] == [GREETING, MENU]
    assert said[1]["buttons"] == BUTTONS
    visitor.say("Ask a question", reply_value="question")
    assert visitor.bot_said()[-1]["text"] == PROMPT


def test_the_demo_bot_answers_from_knowledge_and_hands_off_to_the_inbox(local_stack: Any) -> None:
    assert local_stack.model == "off"
    acme = local_stack.workspaces["acme"]
    visitor = Visitor(local_stack, acme)
    agent = agent_client(local_stack, acme)
    try:
        greeted_and_asked(visitor)
        tapped = visitor.messages()[-2]
        assert (tapped["sender_type"], tapped["text"], tapped["reply_value"]) == (
            "visitor",
            "Ask a question",
            "question",
        )

        # A question the knowledge base answers with confidence: the entry itself.
        visitor.say("How long does shipping take?")
        answer = visitor.bot_said()[-1]
        assert answer["text"] == SHIPPING
        stored = visitor.stored(answer["id"])
        assert stored["source"] == "knowledge"
        assert stored["ai"] == {"outcome": "answer", "source": "knowledge"}
        assert visitor.conversation()["owner"] == "bot"

        # Asking for a person hands off: the conversation is the humans' now.
        visitor.say("I want to talk to a human")
        handoff = visitor.bot_said()[-1]
        assert handoff["text"] == HANDOFF
        assert visitor.stored(handoff["id"])["handoff_reason"] == "visitor_asked"
        assert visitor.conversation()["owner"] == "human"

        # It waits in the agents' inbox.
        inbox = agent.get("/v1/conversations", params={"owner": "human", "status": "open"})
        assert inbox.status_code == 200, inbox.text
        listed = {c["id"]: c for c in inbox.json()["items"]}
        assert visitor.conversation_id in listed
        assert listed[visitor.conversation_id]["owner"] == "human"
    finally:
        # Resolved, so it never reaches another test's agent through the workspace queue.
        agent.post(f"/v1/conversations/{visitor.conversation_id}/resolve")


def test_with_the_local_model_the_stand_in_answers_and_hands_off_what_it_cannot(
    local_stack_with_model: Any,
) -> None:
    stack = local_stack_with_model
    assert stack.model == "local"
    acme = stack.workspaces["acme"]
    visitor = Visitor(stack, acme)
    greeted_and_asked(visitor)

    # The same question, answered by the model: the stand-in's text, its usage recorded.
    visitor.say("How long does shipping take?")
    answer = visitor.bot_said()[-1]
    assert answer["text"] == model.first_sentences(SHIPPING)
    stored = visitor.stored(answer["id"])
    assert stored["source"] == "ai"
    record = stored["ai"]
    decision = {"answer": answer["text"], "handoff": False, "confidence": 0.8}
    assert record["outcome"] == "answer" and record["source"] == "ai"
    assert record["model"] == record["requested_model"] == "openai/gpt-4o-mini"
    assert record["completion_tokens"] == -(-len(json.dumps(decision)) // 4)
    assert record["prompt_tokens"] > 100  # the instructions and the shipping entry
    assert float(record["cost_usd"]) > 0
    assert record["failure_kind"] is None
    assert visitor.conversation()["owner"] == "bot"

    # A question the knowledge cannot answer: the model says hand off, and the bot does.
    visitor.say("Do you sell bicycles?")
    handoff = visitor.bot_said()[-1]
    assert handoff["text"] == HANDOFF
    stored = visitor.stored(handoff["id"])
    assert stored["handoff_reason"] == "no_answer"
    assert stored["ai"]["source"] == "ai"
    assert stored["ai"]["outcome"] == "no_answer"
    assert stored["ai"]["failure_kind"] == "model_handoff"
    assert visitor.conversation()["owner"] == "human"
