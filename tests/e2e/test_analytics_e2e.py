"""Analytics end to end over HTTP against `python -m local`: after a visitor's conversation is
handed off, answered and resolved, the acme admin's overview reflects it (counted by the
analytics stream consumer the stack runs), the agent gets 403 and CSV is served."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def client(stack: Any, token: str | None = None, **headers: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=stack.api_url, timeout=30, headers={"Origin": stack.api_url, **auth, **headers}
    )


def test_the_overview_reflects_a_conversation(local_stack: Any) -> None:
    acme = local_stack.workspaces["acme"]
    admin = client(local_stack, acme["admin_token"])
    agent = client(local_stack, acme["agent_token"])
    today = datetime.now(UTC).date()
    # Whatever acme's time zone, this covers its today.
    window = {"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=2))}

    def overview() -> dict[str, Any]:
        response = admin.get("/v1/analytics/overview", params=window)
        assert response.status_code == 200, response.text
        return dict(response.json())

    local_stack.drain()  # earlier tests' conversations counted first
    before = overview()

    # When a visitor writes, asks for a human, and an agent answers and resolves
    visitor = client(
        local_stack,
        None,
        **{"X-Yoosr-Widget-Key": acme["widget_key"], "Origin": acme["allowed_origins"][0]},
    )
    session = visitor.post("/v1/widget/sessions", json={})
    assert session.status_code == 201, session.text
    visitor.headers["Authorization"] = f"Bearer {session.json()['session_token']}"
    started = visitor.post(
        "/v1/widget/conversations",
        json={"message": {"client_message_id": f"m-{uuid.uuid4().hex[:8]}", "text": "Hi there"}},
    )
    assert started.status_code == 201, started.text
    conversation_id = started.json()["id"]
    asked = visitor.post(f"/v1/widget/conversations/{conversation_id}/handoff", json={})
    assert asked.status_code == 202, asked.text
    local_stack.drain()
    reply = agent.post(
        f"/v1/conversations/{conversation_id}/messages", json={"text": "Hello, I'm here."}
    )
    assert reply.status_code == 201, reply.text
    resolved = agent.post(f"/v1/conversations/{conversation_id}/resolve")
    assert resolved.status_code == 200, resolved.text
    local_stack.drain()

    # Then the admin's overview counts it
    after = overview()
    for figure in ("started", "handed_off", "resolved"):
        assert after["conversations"][figure] == before["conversations"][figure] + 1, figure
    assert after["first_response"]["median_seconds"] is not None
    assert after["resolution"]["median_seconds"] is not None

    # And the agent may not read it; CSV is there for the admin
    assert agent.get("/v1/analytics/overview").status_code == 403
    exported = admin.get("/v1/analytics/overview", params={**window, "format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.startswith("metric,value\r\n")


def test_the_overview_counts_a_privacy_request(local_stack: Any) -> None:
    """The PrivacyRequestsTable stream reaches the analytics consumer the stack runs."""
    acme = local_stack.workspaces["acme"]
    admin = client(local_stack, acme["admin_token"])
    today = datetime.now(UTC).date()
    window = {"from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=2))}

    def privacy() -> dict[str, Any]:
        response = admin.get("/v1/analytics/overview", params=window)
        assert response.status_code == 200, response.text
        return dict(response.json()["privacy"])

    local_stack.drain()
    before = privacy()
    # When an admin asks for a visitor's data and the worker answers it
    visitor = client(
        local_stack,
        None,
        **{"X-Yoosr-Widget-Key": acme["widget_key"], "Origin": acme["allowed_origins"][0]},
    )
    session = visitor.post("/v1/widget/sessions", json={})
    assert session.status_code == 201, session.text
    subject = {"visitor_id": session.json()["visitor_id"]}
    created = admin.post("/v1/privacy/requests", json={"type": "access", "subject": subject})
    assert created.status_code == 201, created.text
    local_stack.drain()
    local_stack.drain()  # the worker's completion, then its audit event on the stream
    # Then it is received and completed on time, once
    after = privacy()
    for figure in ("received", "completed", "completed_on_time"):
        assert after[figure] == before[figure] + 1, (figure, before, after)
