"""Bad input gets a clear 4xx in the API.md error shape, never a 5xx, and changes nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.integration.widget_support import ORIGIN, Visitor
from tests.support import HttpHandlerClient
from yoosr import ids
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import ddb, keys


@pytest.fixture(scope="module")
def setup(stack: Any, widget: HttpHandlerClient) -> dict[str, Any]:
    table = stack.table("WorkspacesTable")
    made = provision_workspace(
        table, f"org_{uuid.uuid4().hex}", "Acme", {"allowed_origins": [ORIGIN]}
    )
    key = issue_widget_key(table, made.workspace_id)
    v = Visitor(widget, key)
    v.start_session()
    conversation_id = v.start_conversation("hello")
    other = provision_workspace(table, f"org_{uuid.uuid4().hex}", "Globex", {})
    foreign = Visitor(widget, issue_widget_key(table, other.workspace_id))
    foreign.start_session()
    # An expired session that TTL has not removed yet.
    expired_token = ids.new_token("yst")
    ddb.put(
        stack.table("EphemeralTable"),
        {
            **dict(
                zip(
                    ("pk", "sk"),
                    keys.session(made.workspace_id, ids.digest(expired_token)),
                    strict=True,
                )
            ),
            "visitor_id": v.visitor_id,
            "expires_at": int(time.time()) - 1,
        },
    )
    return {
        "visitor": v,
        "key": key,
        "conversation_id": conversation_id,
        "foreign_token": foreign.token,
        "expired_token": expired_token,
        "workspace_id": made.workspace_id,
    }


MESSAGE = {"client_message_id": "bad-1", "text": "hello"}
CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("malformed json", {"raw_body": '{"client_message_id": "x", "text": '}, 400, "malformed_json"),
    ("json array body", {"json_body": [1, 2]}, 422, "validation_failed"),
    (
        "non-json content type",
        {
            "raw_body": "text=hello",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        415,
        "unsupported_media_type",
    ),
    (
        "body over the limit",
        {"json_body": {"client_message_id": "x", "text": "a" * 40_000}},
        413,
        "payload_too_large",
    ),
    ("missing body", {}, 400, "missing_body"),
    (
        "missing widget key",
        {"json_body": MESSAGE, "headers": {"x-yoosr-widget-key": None}},
        401,
        "invalid_widget_key",
    ),
    (
        "unknown widget key",
        {
            "json_body": MESSAGE,
            "headers": {"x-yoosr-widget-key": f"wk.ws_{ids.ulid()}.{ids.ulid()}"},
        },
        401,
        "invalid_widget_key",
    ),
    (
        "garbage widget key",
        {"json_body": MESSAGE, "headers": {"x-yoosr-widget-key": "nope"}},
        401,
        "invalid_widget_key",
    ),
    (
        "missing session",
        {"json_body": MESSAGE, "headers": {"authorization": None}},
        401,
        "invalid_session",
    ),
    (
        "forged session",
        {"json_body": MESSAGE, "headers": {"authorization": "Bearer " + ids.new_token("yst")}},
        401,
        "invalid_session",
    ),
    ("expired session", {"json_body": MESSAGE, "token": "expired_token"}, 401, "invalid_session"),
    (
        "another workspace's session",
        {"json_body": MESSAGE, "token": "foreign_token"},
        401,
        "invalid_session",
    ),
    ("unknown field", {"json_body": {**MESSAGE, "sender_type": "agent"}}, 422, "validation_failed"),
    (
        "empty text",
        {"json_body": {"client_message_id": "x", "text": "   \n "}},
        422,
        "validation_failed",
    ),
    (
        "text over 4000 characters",
        {"json_body": {"client_message_id": "x", "text": "a" * 4001}},
        422,
        "validation_failed",
    ),
    ("missing client id", {"json_body": {"text": "hi"}}, 422, "validation_failed"),
    (
        "bad client id",
        {"json_body": {"client_message_id": "../x y", "text": "hi"}},
        422,
        "validation_failed",
    ),
    (
        "text of wrong type",
        {"json_body": {"client_message_id": "x", "text": 42}},
        422,
        "validation_failed",
    ),
    (
        "disallowed origin",
        {"json_body": MESSAGE, "headers": {"origin": "https://evil.example"}},
        403,
        "origin_not_allowed",
    ),
    (
        "no origin where origins are listed",
        {"json_body": MESSAGE, "headers": {"origin": None}},
        403,
        "origin_not_allowed",
    ),
    (
        "unknown conversation",
        {"json_body": MESSAGE, "conversation_id": ids.new_id("conv")},
        404,
        "not_found",
    ),
    (
        "malformed conversation id",
        {"json_body": MESSAGE, "conversation_id": "conv_%27--"},
        404,
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("case", "request_args", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_message_posts(
    stack: Any,
    setup: dict[str, Any],
    case: str,
    request_args: dict[str, Any],
    status: int,
    code: str,
) -> None:
    v: Visitor = setup["visitor"]
    args = dict(request_args)
    headers = dict(args.pop("headers", {}))
    if "token" in args:
        headers["authorization"] = "Bearer " + setup[args.pop("token")]
    conversation_id = args.pop("conversation_id", setup["conversation_id"])
    before = ddb.get(
        stack.table("ConversationsTable"),
        *keys.conversation(setup["workspace_id"], setup["conversation_id"]),
    )
    response = v.call(
        "widget_post_message",
        path_params={"conversation_id": conversation_id},
        headers=headers,
        **args,
    )
    assert (response.status, response.error_code) == (status, code), response.body
    body = response.json["error"]
    assert set(body) == {"code", "message", "details"} and body["message"]
    if status == 422:
        assert body["details"] and all(d["field"] for d in body["details"])
    after = ddb.get(
        stack.table("ConversationsTable"),
        *keys.conversation(setup["workspace_id"], setup["conversation_id"]),
    )
    assert after == before  # nothing written


QUERY_CASES = [
    ("bad cursor", "widget_list_conversations", {"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
    (
        "forged cursor for another visitor",
        "widget_list_conversations",
        {
            "cursor": ddb.encode_cursor(
                {
                    "pk": {"S": "ws_X#CONV#conv_1"},
                    "sk": {"S": "CONV"},
                    "visitor_pk": {"S": "ws_X#VISITOR#vis_1"},
                    "visitor_sk": {"S": "conv_1"},
                }
            )
            or ""
        },
        400,
        "invalid_cursor",
    ),
    ("limit zero", "widget_list_conversations", {"limit": "0"}, 400, "invalid_query"),
    ("limit over 200", "widget_list_conversations", {"limit": "201"}, 400, "invalid_query"),
    ("limit not a number", "widget_list_conversations", {"limit": "ten"}, 400, "invalid_query"),
    ("bad after cursor", "widget_list_messages", {"after": "msg_nope"}, 400, "invalid_cursor"),
]


@pytest.mark.parametrize(
    ("case", "sample", "query", "status", "code"), QUERY_CASES, ids=[c[0] for c in QUERY_CASES]
)
def test_bad_queries(
    setup: dict[str, Any], case: str, sample: str, query: dict[str, str], status: int, code: str
) -> None:
    v: Visitor = setup["visitor"]
    response = v.call(
        sample,
        path_params={"conversation_id": setup["conversation_id"]} if "messages" in sample else None,
        query=query,
    )
    assert (response.status, response.error_code) == (status, code), response.body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"rating": 0}, 422, "validation_failed"),
        ({"rating": 6}, 422, "validation_failed"),
        ({"rating": "5"}, 422, "validation_failed"),
        ({"rating": 4.5}, 422, "validation_failed"),
        ({"rating": 3, "comment": "x" * 1001}, 422, "validation_failed"),
        ({"comment": "no rating"}, 422, "validation_failed"),
    ],
)
def test_csat_out_of_range(
    setup: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    v: Visitor = setup["visitor"]
    response = v.call(
        "widget_submit_csat",
        path_params={"conversation_id": setup["conversation_id"]},
        json_body=body,
    )
    assert (response.status, response.error_code) == (status, code), response.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"name": ""}, "name"),
        ({}, "body"),
        ({"visitor_id": "vis_x"}, "visitor_id"),
    ],
)
def test_visitor_update_validation_names_the_field(
    setup: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = setup["visitor"].call("widget_update_visitor", json_body=body)
    assert response.status == 422, response.body
    assert any(d["field"] == field for d in response.json["error"]["details"])


def test_preflight_answers_with_cors_headers(widget: HttpHandlerClient) -> None:
    response = widget.call("widget_preflight")
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "x-yoosr-widget-key" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "Origin"
    bad = widget.call("widget_preflight", headers={"origin": "null"})
    assert bad.status == 403 and "access-control-allow-origin" not in bad.headers


def test_disallowed_origin_gets_no_cors_header(setup: dict[str, Any]) -> None:
    response = setup["visitor"].call(
        "widget_get_config", headers={"origin": "https://evil.example"}
    )
    assert response.status == 403
    assert "access-control-allow-origin" not in response.headers


def test_rate_limit_per_session_returns_retry_after(
    stack: Any, widget: HttpHandlerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = __import__("yoosr_function_widget_ingest")
    limited = module.settings.model_copy(update={"rate_session_writes": 3})
    monkeypatch.setattr(module, "settings", limited)
    table = stack.table("WorkspacesTable")
    made = provision_workspace(table, f"org_{uuid.uuid4().hex}", "Tiny", {})
    v = Visitor(widget, issue_widget_key(table, made.workspace_id))
    v.start_session()
    conversation_id = v.start_conversation(None)  # write 1
    statuses = [v.post(conversation_id, f"m{i}").status for i in range(3)]
    assert statuses == [201, 201, 429]
    blocked = v.post(conversation_id, "again")
    assert blocked.status == 429 and blocked.error_code == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # The refused messages were not stored.
    item = ddb.get(
        stack.table("ConversationsTable"), *keys.conversation(made.workspace_id, conversation_id)
    )
    assert item is not None and item["message_count"] == 2
