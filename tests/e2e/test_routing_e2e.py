"""Routing end to end over HTTP against `python -m local`: a visitor asks for a human, the
stream consumer assigns the online agent of the right department, the agent replies from the
inbox, and the visitor's widget shows the reply. Dashboard tokens come from credentials.json."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def dashboard(stack: Any, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Origin": stack.api_url},
    )


def widget(stack: Any, workspace: dict[str, Any]) -> httpx.Client:
    client = httpx.Client(
        base_url=stack.api_url,
        timeout=30,
        headers={
            "X-Yoosr-Widget-Key": workspace["widget_key"],
            "Origin": workspace["allowed_origins"][0],
        },
    )
    session = client.post("/v1/widget/sessions", json={})
    assert session.status_code == 201, session.text
    client.headers["Authorization"] = f"Bearer {session.json()['session_token']}"
    return client


def test_visitor_reaches_an_agent_of_the_right_department(local_stack: Any) -> None:
    acme = local_stack.workspaces["acme"]
    admin = dashboard(local_stack, acme["admin_token"])
    agent = dashboard(local_stack, acme["agent_token"])
    agent_id = acme["agent_user_id"]

    # Given a Returns department whose only agent is online (and a department without agents)
    suffix = uuid.uuid4().hex[:6]
    returns = admin.post("/v1/departments", json={"name": f"Returns {suffix}"})
    assert returns.status_code == 201, returns.text
    returns_id = returns.json()["id"]
    other = admin.post("/v1/departments", json={"name": f"Sales {suffix}"}).json()["id"]
    assert agent.get("/v1/departments").status_code == 200  # the agent's first call
    joined = admin.patch(f"/v1/agents/{agent_id}", json={"departments": [returns_id]})
    assert joined.status_code == 200, joined.text
    online = agent.put("/v1/agents/me/status", json={"status": "online"})
    assert online.status_code == 200, online.text

    try:
        # When a visitor asks for a human in Returns, and another in Sales
        visitor = widget(local_stack, acme)
        started = visitor.post(
            "/v1/widget/conversations",
            json={"message": {"client_message_id": f"m-{suffix}", "text": "My parcel is late"}},
        )
        assert started.status_code == 201, started.text
        conversation_id = started.json()["id"]
        asked = visitor.post(
            f"/v1/widget/conversations/{conversation_id}/handoff",
            json={"department_id": returns_id},
        )
        assert asked.status_code == 202, asked.text
        assert asked.json()["owner"] == "human" and asked.json()["queue_position"] == 1
        elsewhere = widget(local_stack, acme)
        other_id = elsewhere.post("/v1/widget/conversations", json={}).json()["id"]
        assert (
            elsewhere.post(
                f"/v1/widget/conversations/{other_id}/handoff", json={"department_id": other}
            ).status_code
            == 202
        )
        local_stack.drain()

        # Then the Returns agent holds the first one, and the Sales visitor waits (told so)
        mine = agent.get("/v1/conversations", params={"assignee": "me"})
        assert mine.status_code == 200, mine.text
        assert [c["id"] for c in mine.json()["items"]] == [conversation_id]
        detail = agent.get(f"/v1/conversations/{conversation_id}").json()
        assert detail["assignee_id"] == agent_id and detail["department_id"] == returns_id
        waiting = elsewhere.get("/v1/widget/conversations").json()["items"][0]
        assert waiting["assignee_id"] is None and waiting["queue_position"] == 1
        told = elsewhere.get(f"/v1/widget/conversations/{other_id}/messages").json()["items"]
        assert [m["sender_type"] for m in told] == ["system"]

        # When the agent writes a note and replies
        note = agent.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"text": "Check the carrier first", "private": True},
        )
        assert note.status_code == 201, note.text
        reply = agent.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"text": "Sorry about that! It ships today.", "client_message_id": suffix},
        )
        assert reply.status_code == 201, reply.text

        # Then the visitor's widget shows the reply (and never the note)
        messages = visitor.get(f"/v1/widget/conversations/{conversation_id}/messages")
        assert messages.status_code == 200
        texts = [(m["sender_type"], m["text"]) for m in messages.json()["items"]]
        assert texts == [
            ("visitor", "My parcel is late"),
            ("agent", "Sorry about that! It ships today."),
        ]

        # The scheduled sweep runs on demand, and the agent resolves
        swept = local_stack.fire("AgentRoutingSweepFunction", "EveryMinute")
        assert swept["status"] == "ok", swept
        resolved = agent.post(f"/v1/conversations/{conversation_id}/resolve")
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    finally:
        agent.put("/v1/agents/me/status", json={"status": "offline"})
        admin.patch(f"/v1/agents/{agent_id}", json={"departments": []})
