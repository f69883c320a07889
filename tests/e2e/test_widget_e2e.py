"""The widget API end to end: a plain HTTP client against `python -m local` (the same stack
`make dev` runs), with the stream consumer running behind it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import httpx
import pytest

pytestmark = pytest.mark.e2e


class WidgetClient:
    def __init__(self, api_url: str, workspace: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=30)
        self.workspace = workspace
        self.headers = {
            "X-Yoosr-Widget-Key": workspace["widget_key"],
            "Origin": workspace["allowed_origins"][0],
        }

    def session(self) -> dict[str, Any]:
        response = self.http.post("/v1/widget/sessions", json={}, headers=self.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        self.headers["Authorization"] = f"Bearer {body['session_token']}"
        return dict(body)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)


def _credentials(stack: Any) -> tuple[str, dict[str, Any], str]:
    get = stack.get if isinstance(stack, dict) else lambda name: getattr(stack, name)
    return get("api_url"), get("workspaces"), get("aws_endpoint_url")


def test_visitor_conversation_end_to_end(local_stack: Any) -> None:
    api_url, workspaces, aws_url = _credentials(local_stack)
    acme = WidgetClient(api_url, workspaces["acme"])

    config = acme.request("GET", "/v1/widget/config")
    assert config.status_code == 200
    assert config.headers["access-control-allow-origin"] == workspaces["acme"]["allowed_origins"][0]

    acme.session()
    started = acme.request(
        "POST",
        "/v1/widget/conversations",
        json={
            "client_conversation_id": "e2e-1",
            "message": {"client_message_id": "e2e-m1", "text": "Hello from e2e"},
        },
    )
    assert started.status_code == 201, started.text
    conversation_id = started.json()["id"]
    path = f"/v1/widget/conversations/{conversation_id}/messages"

    posted = acme.request("POST", path, json={"client_message_id": "e2e-m2", "text": "Second"})
    replay = acme.request("POST", path, json={"client_message_id": "e2e-m2", "text": "Second"})
    assert (posted.status_code, replay.status_code) == (201, 200)
    assert posted.json() == replay.json()

    listed = acme.request("GET", path)
    assert [m["text"] for m in listed.json()["items"]] == ["Hello from e2e", "Second"]
    after = acme.request("GET", path, params={"after": listed.json()["items"][0]["id"]})
    assert [m["text"] for m in after.json()["items"]] == ["Second"]

    conversations = acme.request("GET", "/v1/widget/conversations").json()["items"]
    assert [c["id"] for c in conversations] == [conversation_id]
    assert conversations[0]["message_count"] == 2

    csat = f"/v1/widget/conversations/{conversation_id}/csat"
    assert acme.request("POST", csat, json={"rating": 4}).status_code == 201
    again = acme.request("POST", csat, json={"rating": 5})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "csat_already_submitted"

    # The stream consumer counted both visitor messages exactly once; the replay, a cancelled
    # transaction, put nothing on the stream.
    local_stack_drain(local_stack)
    table = "yoosr-local-ConversationsTable"
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = dynamodb.get_item(
        TableName=table,
        Key={
            "pk": {"S": f"{workspaces['acme']['workspace_id']}#CONV#{conversation_id}"},
            "sk": {"S": "CONV"},
        },
    )["Item"]
    partition = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": item["pk"]},
    )["Items"]
    assert item["unread_by_agents"] == {"N": "2"}, " ".join([i["sk"]["S"][:12] for i in partition])


def local_stack_drain(stack: Any) -> None:
    drain = stack["drain"] if isinstance(stack, dict) else stack.drain
    drain()


def test_workspaces_are_isolated_both_ways(local_stack: Any) -> None:
    api_url, workspaces, _ = _credentials(local_stack)
    acme = WidgetClient(api_url, workspaces["acme"])
    globex = WidgetClient(api_url, workspaces["globex"])
    acme.session()
    globex.session()
    mine = {}
    for name, client in (("acme", acme), ("globex", globex)):
        response = client.request(
            "POST",
            "/v1/widget/conversations",
            json={"message": {"client_message_id": str(uuid.uuid4()), "text": f"{name} secret"}},
        )
        assert response.status_code == 201
        mine[name] = response.json()["id"]
    for name, client, other in (("acme", acme, "globex"), ("globex", globex, "acme")):
        path = f"/v1/widget/conversations/{mine[other]}/messages"
        assert client.request("GET", path).status_code == 404
        posted = client.request("POST", path, json={"client_message_id": "x", "text": "hi"})
        assert posted.status_code == 404
        listed = client.request("GET", "/v1/widget/conversations").json()["items"]
        assert [c["id"] for c in listed] == [mine[name]]
    # One workspace's session token is nothing to the other workspace's key.
    swapped = dict(globex.headers, Authorization=acme.headers["Authorization"])
    response = globex.http.get("/v1/widget/conversations", headers=swapped)
    assert response.status_code == 401


def test_bad_input_over_http(local_stack: Any) -> None:
    api_url, workspaces, _ = _credentials(local_stack)
    acme = WidgetClient(api_url, workspaces["acme"])
    acme.session()
    response = acme.http.post(
        "/v1/widget/conversations",
        content=b"{oops",
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    evil = acme.http.get(
        "/v1/widget/config", headers={**acme.headers, "Origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert "access-control-allow-origin" not in evil.headers
    preflight = acme.http.options(
        "/v1/widget/sessions",
        headers={
            "Origin": workspaces["acme"]["allowed_origins"][0],
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.status_code == 204
    assert acme.http.get("/v1/nothing-here").status_code == 404
