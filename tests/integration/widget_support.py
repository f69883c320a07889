"""A scripted widget visitor and readers of what was stored, for the integration suites."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import HttpHandlerClient, Response
from yoosr.store import ddb, keys

ORIGIN = "https://shop.example"


class Visitor:
    """A widget visitor of one workspace: key, origin and (after start) a session."""

    def __init__(self, client: HttpHandlerClient, key: str, origin: str = ORIGIN) -> None:
        self.client = client
        self.key = key
        self.origin = origin
        self.token: str | None = None
        self.visitor_id: str | None = None

    def headers(self, **extra: str | None) -> dict[str, str | None]:
        base: dict[str, str | None] = {
            "x-yoosr-widget-key": self.key,
            "origin": self.origin,
            "authorization": f"Bearer {self.token}" if self.token else None,
        }
        base.update(extra)
        return base

    def call(self, sample: str, **kwargs: Any) -> Response:
        headers = self.headers(**kwargs.pop("headers", {}))
        return self.client.call(sample, headers=headers, **kwargs)

    def start_session(self, body: dict[str, Any] | None = None) -> Response:
        response = self.call("widget_create_session", json_body=body or {})
        assert response.status == 201, response.body
        self.token = response.json["session_token"]
        self.visitor_id = response.json["visitor_id"]
        return response

    def start_conversation(self, text: str | None = "Hello") -> str:
        body: dict[str, Any] = {"client_conversation_id": str(uuid.uuid4())}
        if text:
            body["message"] = {"client_message_id": str(uuid.uuid4()), "text": text}
        response = self.call("widget_start_conversation", json_body=body)
        assert response.status == 201, response.body
        return str(response.json["id"])

    def post(self, conversation_id: str, text: str, client_id: str | None = None) -> Response:
        return self.call(
            "widget_post_message",
            path_params={"conversation_id": conversation_id},
            json_body={"client_message_id": client_id or str(uuid.uuid4()), "text": text},
        )

    def messages(self, conversation_id: str, **query: str) -> Response:
        return self.call(
            "widget_list_messages", path_params={"conversation_id": conversation_id}, query=query
        )


def conversation_item(stack: Any, ws: str, conversation_id: str) -> dict[str, Any]:
    item = ddb.get(stack.table("ConversationsTable"), *keys.conversation(ws, conversation_id))
    assert item is not None
    return item


def stored_messages(stack: Any, ws: str, conversation_id: str) -> list[dict[str, Any]]:
    items, _ = ddb.query(
        stack.table("ConversationsTable"),
        "pk = :pk AND begins_with(sk, :m)",
        ddb.values(pk=keys.conversation_pk(ws, conversation_id), m="MSG#"),
    )
    return items
