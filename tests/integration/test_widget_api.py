"""The widget API through its real Lambda handler, on moto tables built from template.yaml."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.widget_support import (
    ORIGIN,
    Visitor,
    conversation_item,
    stored_messages,
)
from tests.support import HttpHandlerClient
from yoosr import ids
from yoosr.domain.hashing import identity_hash
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import ddb, keys

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- config and sessions


def test_config_describes_the_workspace(widget: HttpHandlerClient, workspace: dict) -> None:
    response = Visitor(widget, workspace["key"]).call("widget_get_config")
    assert response.status == 200
    body = response.json
    assert body["workspace_name"] == "Acme"
    assert body["business_hours"]["open_now"] is True
    assert body["limits"]["message_max_chars"] == 4000
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers["vary"]


def test_session_is_opaque_and_stored_hashed(
    stack: Any, widget: HttpHandlerClient, workspace: dict
) -> None:
    v = Visitor(widget, workspace["key"])
    response = v.start_session({"page_url": "https://shop.example/cart?email=a@b.c#x"})
    token = response.json["session_token"]
    assert token.startswith("yst_") and len(token) == 47
    assert ids.VISITOR_ID.match(response.json["visitor_id"])
    # Given the token, only its digest is a key; the raw token is stored nowhere.
    session = ddb.get(
        stack.table("EphemeralTable"), *keys.session(workspace["id"], ids.digest(token))
    )
    assert session is not None and session["visitor_id"] == v.visitor_id
    assert token not in str(session)
    visitor = ddb.get(stack.table("VisitorsTable"), *keys.visitor(workspace["id"], v.visitor_id))
    assert visitor is not None
    assert visitor["device"]["page_url"] == "https://shop.example/cart"
    assert visitor["device"]["browser"] == "Safari"
    assert visitor["device"]["language"] == "en-GB"
    assert "203.0.113.7" not in str(visitor)


def test_verified_identity_maps_to_one_visitor(widget: HttpHandlerClient, workspace: dict) -> None:
    user_hash = identity_hash("site-secret-123", "user-42")
    body = {"identity": {"user_id": "user-42", "user_hash": user_hash, "name": "Ada"}}
    first = Visitor(widget, workspace["key"]).start_session(body)
    second = Visitor(widget, workspace["key"]).start_session(body)
    assert first.json["visitor_id"] == second.json["visitor_id"]
    assert first.json["session_token"] != second.json["session_token"]


def test_identity_with_bad_hash_is_rejected(widget: HttpHandlerClient, workspace: dict) -> None:
    body = {"identity": {"user_id": "user-42", "user_hash": "0" * 64}}
    response = Visitor(widget, workspace["key"]).call("widget_create_session", json_body=body)
    assert response.status == 401
    assert response.error_code == "identity_verification_failed"


def test_required_identity_without_hash_is_rejected(stack: Any, widget: HttpHandlerClient) -> None:
    table = stack.table("WorkspacesTable")
    made = provision_workspace(
        table,
        f"org_{uuid.uuid4().hex}",
        "Strict",
        {"identity_verification_required": True, "identity_secret": "s3cret"},
    )
    v = Visitor(widget, issue_widget_key(table, made.workspace_id))
    response = v.call("widget_create_session", json_body={"identity": {"user_id": "u1"}})
    assert response.status == 401
    assert response.error_code == "identity_verification_required"
    ok = v.call(
        "widget_create_session",
        json_body={"identity": {"user_id": "u1", "user_hash": identity_hash("s3cret", "u1")}},
    )
    assert ok.status == 201


def test_visitor_attributes_are_set_with_keyed_hashes(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    response = visitor.call(
        "widget_update_visitor",
        json_body={"name": "Ada", "email": "Ada@Example.COM", "phone": "+44 20 7946 0000"},
    )
    assert response.status == 200, response.body
    assert response.json == {
        "visitor_id": visitor.visitor_id,
        "name": "Ada",
        "email": "Ada@example.com",
        "phone": "+44 20 7946 0000",
        "identity_verified": False,
    }
    item = ddb.get(stack.table("VisitorsTable"), *keys.visitor(workspace["id"], visitor.visitor_id))
    assert item is not None
    assert item["email_key"].startswith(workspace["id"] + "#")
    digest = item["email_key"].split("#", 1)[1]
    assert len(digest) == 64 and int(digest, 16) >= 0  # a keyed hash, not the address
    assert "example.com" not in item["email_key"].lower()
    cleared = visitor.call("widget_update_visitor", json_body={"email": None})
    assert cleared.status == 200 and cleared.json["email"] is None
    item = ddb.get(stack.table("VisitorsTable"), *keys.visitor(workspace["id"], visitor.visitor_id))
    assert item is not None and "email" not in item and "email_key" not in item


# ---------------------------------------------------------------- conversations and messages


def test_conversation_flow_keeps_state_consistent(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation("Hi there")
    for text in ("second", "third"):
        assert visitor.post(conversation_id, text).status == 201
    item = conversation_item(stack, workspace["id"], conversation_id)
    assert item["message_count"] == 3
    assert item["visitor_message_count"] == 3
    assert item["last_message_preview"] == "third"
    listed = visitor.messages(conversation_id)
    assert listed.status == 200
    assert [m["text"] for m in listed.json["items"]] == ["Hi there", "second", "third"]
    assert listed.json["next_cursor"] is None
    conversations = visitor.call("widget_list_conversations")
    assert [c["id"] for c in conversations.json["items"]] == [conversation_id]
    assert conversations.json["items"][0]["message_count"] == 3


def test_message_replay_returns_the_same_body_and_stores_once(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation(None)
    first = visitor.post(conversation_id, "only once", client_id="retry-1")
    again = visitor.post(conversation_id, "only once", client_id="retry-1")
    assert (first.status, again.status) == (201, 200)
    assert first.json == again.json
    assert len(stored_messages(stack, workspace["id"], conversation_id)) == 1
    assert conversation_item(stack, workspace["id"], conversation_id)["message_count"] == 1
    reused = visitor.post(conversation_id, "something else", client_id="retry-1")
    assert reused.status == 409 and reused.error_code == "client_message_id_reused"
    # ...and the contract says so (the long fuzzing run found it undocumented once)
    schema = json.loads((REPO / "docs" / "openapi" / "widget_ingest.json").read_text())
    operation = schema["paths"]["/v1/widget/conversations/{conversation_id}/messages"]["post"]
    assert {"200", "201", "409"} <= set(operation["responses"])


def test_conversation_start_is_idempotent(stack: Any, visitor: Visitor, workspace: dict) -> None:
    body = {
        "client_conversation_id": "conv-abc",
        "message": {"client_message_id": "m-abc", "text": "Hello"},
    }
    first = visitor.call("widget_start_conversation", json_body=body)
    again = visitor.call("widget_start_conversation", json_body=body)
    assert (first.status, again.status) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert first.json["message"] == again.json["message"]
    assert len(visitor.call("widget_list_conversations").json["items"]) == 1
    assert len(stored_messages(stack, workspace["id"], first.json["id"])) == 1


def test_card_numbers_are_redacted_before_storage(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation(None)
    response = visitor.post(conversation_id, "my card is 4111 1111 1111 1111, order 12345")
    assert response.status == 201
    assert "4111" not in response.json["text"]
    assert "order 12345" in response.json["text"]
    stored = stored_messages(stack, workspace["id"], conversation_id)
    assert "4111" not in str(stored)
    item = conversation_item(stack, workspace["id"], conversation_id)
    assert "4111" not in item["last_message_preview"]


def test_messages_after_cursor_and_paging(visitor: Visitor) -> None:
    conversation_id = visitor.start_conversation(None)
    ids_ = [visitor.post(conversation_id, f"m{i}").json["id"] for i in range(5)]
    page = visitor.messages(conversation_id, limit="2")
    assert [m["id"] for m in page.json["items"]] == ids_[:2]
    assert page.json["next_cursor"] == ids_[1]
    rest = visitor.messages(conversation_id, after=page.json["next_cursor"], limit="10")
    assert [m["id"] for m in rest.json["items"]] == ids_[2:]
    assert rest.json["next_cursor"] is None
    assert visitor.messages(conversation_id, after=ids_[-1]).json["items"] == []


def test_expired_messages_and_conversations_are_hidden(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    # Given items whose TTL passed but which AWS has not deleted yet
    conversation_id = visitor.start_conversation("keep me")
    table = stack.table("ConversationsTable")
    expired = ddb.values(past=1)
    pk = keys.conversation_pk(workspace["id"], conversation_id)
    old = stored_messages(stack, workspace["id"], conversation_id)[0]
    ghost = {**old, "sk": "MSG#" + ids.new_id("msg"), "message_id": "msg_x", "expires_at": 1}
    ddb.put(table, ghost)
    listed = visitor.messages(conversation_id)
    assert [m["text"] for m in listed.json["items"]] == ["keep me"]
    # When the conversation itself expires, it is gone for the visitor
    ddb.update(table, pk, "CONV", "SET expires_at = :past", vals=expired)
    assert visitor.messages(conversation_id).status == 404
    assert visitor.post(conversation_id, "hello?").status == 404
    assert visitor.call("widget_list_conversations").json["items"] == []


def test_csat_once_per_conversation(stack: Any, visitor: Visitor, workspace: dict) -> None:
    conversation_id = visitor.start_conversation("hi")
    path = {"conversation_id": conversation_id}
    first = visitor.call(
        "widget_submit_csat", path_params=path, json_body={"rating": 5, "comment": "great"}
    )
    assert first.status == 201
    assert first.json["rating"] == 5 and first.json["comment"] == "great"
    second = visitor.call("widget_submit_csat", path_params=path, json_body={"rating": 1})
    assert second.status == 409 and second.error_code == "csat_already_submitted"
    item = conversation_item(stack, workspace["id"], conversation_id)
    assert item["csat_rating"] == 5


# ---------------------------------------------------------------- isolation


def test_another_visitors_conversation_is_404(
    widget: HttpHandlerClient, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation("private")
    other = Visitor(widget, workspace["key"])
    other.start_session()
    assert other.messages(conversation_id).status == 404
    assert other.post(conversation_id, "hijack").status == 404
    assert (
        other.call(
            "widget_submit_csat",
            path_params={"conversation_id": conversation_id},
            json_body={"rating": 1},
        ).status
        == 404
    )
    assert other.call("widget_list_conversations").json["items"] == []


def test_workspaces_are_isolated_both_ways(
    stack: Any, widget: HttpHandlerClient, visitor: Visitor
) -> None:
    conversation_id = visitor.start_conversation("acme secret")
    table = stack.table("WorkspacesTable")
    globex = provision_workspace(
        table, f"org_{uuid.uuid4().hex}", "Globex", {"allowed_origins": [ORIGIN]}
    )
    globex_key = issue_widget_key(table, globex.workspace_id)
    # Acme's session token with Globex's key is not a session at all.
    intruder = Visitor(widget, globex_key)
    intruder.token = visitor.token
    assert intruder.messages(conversation_id).status == 401
    intruder.start_session()
    response = intruder.messages(conversation_id)
    assert response.status == 404
    assert "acme secret" not in response.body
    assert visitor.messages(conversation_id).status == 200


def test_revoked_key_stops_working_at_once(stack: Any, visitor: Visitor, workspace: dict) -> None:
    key_id = workspace["key"].split(".")[2]
    ddb.update(
        stack.table("WorkspacesTable"),
        *keys.widget_key(workspace["id"], key_id),
        "SET revoked_at = :now",
        vals=ddb.values(now="2026-11-29T00:00:00Z"),
    )
    response = visitor.call("widget_get_config")
    assert response.status == 401 and response.error_code == "invalid_widget_key"


def test_logs_hold_no_message_text_or_personal_data(
    caplog: pytest.LogCaptureFixture, widget: HttpHandlerClient, workspace: dict
) -> None:
    caplog.set_level("DEBUG")
    v = Visitor(widget, workspace["key"])
    v.start_session(
        {"identity": {"user_id": "user-77", "name": "Grace Hopper", "email": "grace@navy.example"}}
    )
    conversation_id = v.start_conversation("canary-text-3141 please help")
    v.post(conversation_id, "second canary-text-2718")
    v.call("widget_update_visitor", json_body={"phone": "+1 555 0100 999"})
    v.messages(conversation_id)
    # Every attribute of every record, extras included, as the JSON formatter would see it.
    # (The AWS SDK's own DEBUG wire logs are off in Lambda and are not ours to check.)
    ours = [r for r in caplog.records if not r.name.startswith(("botocore", "boto3", "urllib3"))]
    logged = "\n".join(str(record.__dict__) for record in ours)
    assert "message accepted" in logged and "conversation_id" in logged  # the logger did run
    for secret in (
        "canary-text",
        "Grace",
        "grace@navy",
        "555 0100",
        "user-77",
        "203.0.113.7",
        v.token or "?",
    ):
        assert secret not in logged


def test_a_tapped_quick_reply_keeps_its_value_and_replays_exactly(
    stack: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation()
    path = {"conversation_id": conversation_id}
    body = {"client_message_id": "tap-1", "text": "Ask a question", "reply_value": "question"}
    first = visitor.call("widget_post_message", path_params=path, json_body=body)
    assert first.status == 201, first.body
    assert first.json["reply_value"] == "question"
    again = visitor.call("widget_post_message", path_params=path, json_body=body)
    assert (again.status, again.json) == (200, first.json)
    other = visitor.call(
        "widget_post_message", path_params=path, json_body={**body, "reply_value": "order"}
    )
    assert other.status == 409
    too_long = visitor.call(
        "widget_post_message",
        path_params=path,
        json_body={"client_message_id": "tap-2", "text": "x", "reply_value": "v" * 101},
    )
    assert too_long.status == 422
    assert too_long.json["error"]["details"][0]["field"].endswith("reply_value")
    stored = [
        m for m in stored_messages(stack, workspace["id"], conversation_id) if m.get("reply_value")
    ]
    assert [m["reply_value"] for m in stored] == ["question"]


def test_config_says_agents_are_online_only_while_one_is(
    stack: Any, widget: HttpHandlerClient, workspace: dict
) -> None:
    from yoosr import clock

    visitor = Visitor(widget, workspace["key"])
    assert visitor.call("widget_get_config").json["agents_online"] is False
    table = stack.table("WorkspacesTable")
    agent = {"pk": workspace["id"], "sk": "AGENT#user_on", "item_type": "agent", "open_count": 0}
    ddb.put(table, {**agent, "status": "online", "presence_expires_at": clock.epoch() + 60})
    assert visitor.call("widget_get_config").json["agents_online"] is True
    # A lapsed heartbeat is offline without anyone writing anything.
    ddb.put(table, {**agent, "status": "online", "presence_expires_at": clock.epoch() - 1})
    assert visitor.call("widget_get_config").json["agents_online"] is False
