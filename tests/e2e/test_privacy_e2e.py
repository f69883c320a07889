"""Privacy end to end over the local stack (what `make dev` runs), plain HTTP only: a widget
visitor exports this session's data and downloads the zip through the redirect, then deletes
their data (the next widget call with the session is a 401); a visitor naming an email
address gets the one-time code from the stack's outbox; an admin asks on a subject's behalf."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import zipfile
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


class Widget:
    def __init__(self, api_url: str, workspace: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=60)
        self.headers = {
            "X-Yoosr-Widget-Key": workspace["widget_key"],
            "Origin": workspace["allowed_origins"][0],
        }

    def session(self) -> str:
        response = self.http.post("/v1/widget/sessions", json={}, headers=self.headers)
        assert response.status_code == 201, response.text
        self.headers["Authorization"] = f"Bearer {response.json()['session_token']}"
        return str(response.json()["visitor_id"])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)


def wait_for(widget: Widget, stack: Any, request_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        stack.drain()
        response = widget.request("GET", f"/v1/widget/privacy-requests/{request_id}")
        assert response.status_code == 200, response.text
        if response.json()["status"] == status or time.monotonic() > deadline:
            return dict(response.json())
        time.sleep(0.5)


def test_a_visitor_downloads_their_export_then_deletes_their_data(local_stack: Any) -> None:
    acme = Widget(local_stack.api_url, local_stack.workspaces["acme"])
    acme.session()
    started = acme.request(
        "POST",
        "/v1/widget/conversations",
        json={
            "client_conversation_id": f"e2e-privacy-{uuid.uuid4().hex[:6]}",
            "message": {"client_message_id": "p1", "text": "My privacy e2e message"},
        },
    )
    assert started.status_code == 201, started.text
    local_stack.drain()

    # Export of this session's data
    asked = acme.request("POST", "/v1/widget/privacy-requests", json={"type": "export"})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    done = wait_for(acme, local_stack, request_id, "completed")
    assert done["status"] == "completed", done
    download = acme.request("GET", done["download_url"], follow_redirects=False)
    assert download.status_code == 302, download.text
    location = download.headers["location"]
    assert location.startswith(local_stack.aws_endpoint_url)  # the bucket, presigned
    package = httpx.get(location, timeout=60)
    assert package.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(package.content))
    data = json.loads(archive.read("data.json"))
    texts = [m["text"] for m in data["entities"]["messages"]]
    assert "My privacy e2e message" in texts
    manifest = json.loads(archive.read("manifest.json"))
    assert {f["path"] for f in manifest["files"]} >= {"data.json", "csv/messages.csv"}

    # Then erasure of this session's data: the session is refused afterwards
    erased = acme.request("POST", "/v1/widget/privacy-requests", json={"type": "delete"})
    assert erased.status_code == 201, erased.text
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        local_stack.drain()
        after = acme.request("GET", "/v1/widget/conversations")
        if after.status_code == 401:
            break
        time.sleep(0.5)
    assert after.status_code == 401, after.text
    # (and the export package went with the rest: the presigned URL finds nothing)
    assert httpx.get(location, timeout=60).status_code in (403, 404)


def test_an_email_linked_request_gets_its_code_from_the_outbox(local_stack: Any) -> None:
    acme = Widget(local_stack.api_url, local_stack.workspaces["acme"])
    acme.session()
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    asked = acme.request(
        "POST", "/v1/widget/privacy-requests", json={"type": "access", "email": email}
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "awaiting_verification"
    request_id = asked.json()["id"]
    outbox = httpx.get(f"{local_stack.api_url}/_local/outbox", params={"to": email}, timeout=30)
    assert outbox.status_code == 200
    messages = outbox.json()["messages"]
    assert len(messages) == 1 and messages[0]["to"] == [email]
    code = re.search(r"\b(\d{6})\b", messages[0]["body"])
    assert code is not None
    verified = acme.request(
        "POST", f"/v1/widget/privacy-requests/{request_id}/verify", json={"code": code.group(1)}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "queued"
    done = wait_for(acme, local_stack, request_id, "completed")
    assert done["status"] == "completed", done
    assert done["counts"]["visitors.visitor"] == 0  # nobody had left that address


def test_an_admin_asks_on_a_subjects_behalf(local_stack: Any) -> None:
    admin = local_stack.workspaces["acme"]["admin_token"]
    agent = local_stack.workspaces["acme"]["agent_token"]
    api = httpx.Client(base_url=local_stack.api_url, timeout=60)
    body = {"type": "restrict", "subject": {"email": "nobody@example.com"}}
    refused = api.post(
        "/v1/privacy/requests", json=body, headers={"Authorization": f"Bearer {agent}"}
    )
    assert refused.status_code == 403
    created = api.post(
        "/v1/privacy/requests", json=body, headers={"Authorization": f"Bearer {admin}"}
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        local_stack.drain()
        detail = api.get(
            f"/v1/privacy/requests/{request_id}", headers={"Authorization": f"Bearer {admin}"}
        )
        if detail.json()["status"] == "completed":
            break
        time.sleep(0.5)
    assert detail.json()["status"] == "completed", detail.text
    assert [e["action"] for e in detail.json()["audit"]] == ["submit", "start", "complete"]
    listed = api.get("/v1/privacy/requests", headers={"Authorization": f"Bearer {admin}"})
    assert request_id in {r["id"] for r in listed.json()["items"]}
