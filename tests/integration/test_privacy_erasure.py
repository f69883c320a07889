"""Erasure: a visitor deletes their data from the widget; an admin erases a subject named by
email. Afterwards no table, index or bucket holds the subject's email, phone, name, visitor
id, session ids or message text (raw, lower-cased or URL-encoded): only audit events and the
tombstone remain, with keyed hashes. The session that asked is a 401 at once. Logs of the whole
scenario hold no message text and no personal data."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration import privacy_support as ps
from tests.integration.routing_support import ask_for_human
from tests.support import HttpHandlerClient
from yoosr import ids
from yoosr.domain import hashing
from yoosr.store import ddb, keys

TABLES = (
    "WorkspacesTable",
    "ConversationsTable",
    "VisitorsTable",
    "EphemeralTable",
    "PrivacyRequestsTable",
)


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def org(stack: Any, apps: ps.Apps) -> ps.Org:
    return ps.Org(stack, apps)


def template_tables(stack: Any) -> list[str]:
    return sorted(stack.resources.by_type("AWS::DynamoDB::Table"))


def variants(value: str) -> set[str]:
    return {value, value.lower(), quote(value, safe=""), quote(value.lower(), safe="")}


def residue(stack: Any, needles: set[str]) -> list[tuple[str, str, str]]:
    """(table or bucket, item key, needle) for every stored value that contains a needle: a
    scan of every table of the template and every object of the exports bucket (tests only)."""
    found = []
    for logical_id in template_tables(stack):
        for item in ps.scan_all(stack, logical_id):
            text = json.dumps(item, default=str)
            for needle in needles:
                if needle in text:
                    found.append((logical_id, f"{item.get('pk')}|{item.get('sk')}", needle))
    for key, body in ps.bucket_objects(stack).items():
        for needle in needles:
            if needle in key or needle.encode() in body:
                found.append(("PrivacyExportsBucket", key, needle))
    return found


def seed_note(stack: Any, ws: str, conversation_id: str, text: str) -> None:
    ddb.put(
        stack.table("ConversationsTable"),
        {
            "pk": keys.conversation_pk(ws, conversation_id),
            "sk": f"NOTE#{ids.new_id('note')}",
            "item_type": "note",
            "workspace_id": ws,
            "conversation_id": conversation_id,
            "agent_id": "user_agent",
            "text": text,
            "private": True,
        },
    )


def test_a_visitor_erases_their_data_and_nothing_is_left(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    org: ps.Org,
) -> None:
    with ps.captured_logs() as logged:
        _visitor_erasure_scenario(stack, apps, widget, org, logged)


def _visitor_erasure_scenario(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, logged: Any
) -> None:
    # Given a signed-in visitor (verified identity) on two devices, who gave contact details,
    # chatted, asked for a human, rated, was written about in a note and exported once
    user_id = f"site-user-{uuid.uuid4().hex[:8]}"
    identity = {
        "user_id": user_id,
        "user_hash": hashing.identity_hash("s3cret", user_id),
        "name": "Grace Hopper",
        "email": "Grace.Hopper@Example.com",
    }
    phone = "+44 7700 900123"
    grace = ps.visitor(stack, apps, widget, org, identity=identity)
    laptop = ps.visitor(stack, apps, widget, org, identity=identity)
    assert laptop.visitor_id == grace.visitor_id  # one visitor, two sessions
    assert grace.call("widget_update_visitor", json_body={"phone": phone}).status == 200
    first = grace.start_conversation("My order 4711 never arrived")
    assert grace.post(first, "Please call me back").status == 201
    assert ask_for_human(grace, first).status in (200, 202)
    second = laptop.start_conversation("Second device question")
    grace.call(
        "widget_submit_csat",
        path_params={"conversation_id": second},
        json_body={"rating": 2, "comment": "Slow answer"},
    )
    seed_note(stack, org.ws, first, "Grace sounded upset")
    exported = grace.ask({"type": "export"})
    assert exported.status == 201
    ps.run_jobs(stack, apps)
    assert ps.bucket_objects(stack, f"{org.ws}/{exported.json['id']}/")
    # And another visitor of the same workspace, who must keep everything
    other = ps.visitor(stack, apps, widget, org)
    kept = other.start_conversation("Someone else's question")

    # When Grace asks, from the widget, to delete this session's data
    asked = grace.ask({"type": "delete"})
    assert asked.status == 201, asked.body
    request_id = asked.json["id"]
    assert asked.json["status"] == "queued"  # her own session proves her: no approval
    ps.run_jobs(stack, apps)

    # Then both of her sessions are refused at once (the next widget call is a 401)
    assert grace.call("widget_list_conversations").status == 401
    assert laptop.call("widget_list_conversations").status == 401
    assert grace.status(request_id).status == 401

    # And the request completed, audited, with a tombstone holding only keyed hashes
    item = ps.request_item(stack, org.ws, request_id)
    assert item is not None and item["status"] == "completed"
    assert item["counts"]["conversations.messages"] >= 3
    assert item["counts"]["ephemeral.sessions"] == 2  # both devices
    assert item["subject"]["value"] is None
    audit = [
        i
        for i in ps.partition(stack, "PrivacyRequestsTable", item["pk"])
        if i["sk"].startswith("AUDIT#")
    ]
    assert [a["action"] for a in audit] == ["submit", "start", "complete"]
    assert {a["actor"] for a in audit} == {"subject", "privacy_worker"}
    key = ps.apps(stack).worker.resources.subject_key()
    visitor_hash = hashing.subject_hash(key, "visitor", grace.visitor_id)
    tombstone = ddb.get(
        stack.table("PrivacyRequestsTable"),
        f"{org.ws}#TOMBSTONE#visitor#{visitor_hash}",
        "TOMBSTONE",
    )
    assert tombstone is not None and tombstone["request_id"] == request_id

    # And no table, index or bucket holds anything of hers: raw, lower-cased or URL-encoded
    assert grace.visitor_id is not None and grace.token and laptop.token
    needles = set()
    for value in (
        "Grace Hopper",
        "Grace.Hopper@Example.com",
        phone,
        hashing.normalise_phone(phone),
        grace.visitor_id,
        user_id,
        first,
        second,
        ids.digest(grace.token),
        ids.digest(laptop.token),
        "My order 4711 never arrived",
        "Please call me back",
        "Second device question",
        "Slow answer",
        "Grace sounded upset",
    ):
        needles |= variants(value)
    assert residue(stack, needles) == []
    # (nor the export package she had downloaded before)
    assert ps.bucket_objects(stack, f"{org.ws}/{exported.json['id']}/") == {}

    # And the other visitor's data is untouched
    assert other.messages(kept).json["items"][0]["text"] == "Someone else's question"

    # And nothing logged during the scenario is personal
    logs = logged.getvalue()
    assert "privacy request completed" in logs
    for needle in (
        "Grace",
        "Hopper",
        "Example.com",
        "example.com",
        "7700",
        "order 4711",
        "call me back",
        "Slow answer",
        "upset",
        user_id,
    ):
        assert needle not in logs, needle


def test_an_admin_erases_a_subject_found_by_email_on_every_device(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given the same address left by two anonymous visitors (two devices)
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    phone_user = ps.visitor(stack, apps, widget, org)
    desk = ps.visitor(stack, apps, widget, org)
    for v in (phone_user, desk):
        assert v.call("widget_update_visitor", json_body={"email": email.upper()}).status == 200
        v.start_conversation(f"hello from {v.visitor_id}")
    bystander = ps.visitor(stack, apps, widget, org)
    bystander.call("widget_update_visitor", json_body={"email": "someone@example.com"})

    # When an admin erases the subject named by that address (verified by the admin)
    created = org.create({"type": "delete", "subject": {"email": email}})
    assert created.status == 201, created.body
    assert created.json["status"] == "queued"
    ps.run_jobs(stack, apps)

    # Then both visitors are gone, with their conversations, and the bystander is not
    detail = org.get(created.json["id"])
    assert detail.json["status"] == "completed", detail.body
    assert detail.json["counts"]["visitors.visitor"] == 2
    assert [t["done"] for t in detail.json["tasks"]] == [True] * len(detail.json["tasks"])
    for v in (phone_user, desk):
        assert (
            ddb.get(stack.table("VisitorsTable"), *keys.visitor(org.ws, str(v.visitor_id))) is None
        )
        assert v.call("widget_list_conversations").status == 401
    assert (
        residue(stack, variants(email) | {str(phone_user.visitor_id), str(desk.visitor_id)}) == []
    )
    assert bystander.call("widget_list_conversations").status == 200
    # And the audit trail names the admin and the subject's keyed hash only
    assert {e["actor"] for e in detail.json["audit"]} == {org.admin_id, "privacy_worker"}
    assert email not in detail.body
