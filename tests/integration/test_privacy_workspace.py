"""Workspace deletion: disabled at once (widget keys and sessions refused, dashboards too,
except its admins' cancellation), cancellable during 30 days, purged completely by the daily
schedule once they have passed and not before (frozen clock), the purge leaving only the
privacy audit trail and tombstone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.support import HttpHandlerClient
from yoosr.store import ddb, keys

DELETION = "/v1/workspace/deletion"


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def org(stack: Any, apps: ps.Apps) -> ps.Org:
    return ps.Org(stack, apps)


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    with ps.frozen_clock() as now:
        yield now


def workspace_item(stack: Any, ws: str) -> dict[str, Any] | None:
    return ddb.get(stack.table("WorkspacesTable"), *keys.workspace(ws))


def daily(apps: ps.Apps) -> dict[str, Any]:
    return dict(apps.schedule.lambda_handler({}, ps.Deadline(120_000)))


def test_deletion_disables_the_workspace_at_once_and_can_be_cancelled(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    v = ps.visitor(stack, apps, widget, org)
    conversation_id = v.start_conversation("hello")

    # When an admin schedules the workspace's deletion
    scheduled = org.call("POST", DELETION)
    assert scheduled.status == 202, scheduled.body
    request = scheduled.json
    assert (request["type"], request["status"]) == ("workspace_deletion", "queued")
    not_before = datetime.fromisoformat(request["not_before"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(request["created_at"].replace("Z", "+00:00"))
    assert not_before - created == timedelta(days=30)
    stored = workspace_item(stack, org.ws)
    assert stored is not None and stored["status"] == "pending_deletion"
    assert stored["deletion_request_id"] == request["id"]

    # Then the widget stops at once: keys, sessions, new conversations
    assert v.call("widget_get_config").status == 401
    assert v.messages(conversation_id).status == 401
    assert v.call("widget_start_conversation", json_body={}).status == 401
    # And the dashboards too, except the admins' view of the deletion itself
    listed = org.call("GET", "/v1/privacy/requests")
    assert (listed.status, listed.error_code) == (403, "workspace_disabled")
    assert org.call("DELETE", DELETION, role="agent").status == 403
    again = org.call("POST", DELETION)
    assert (again.status, again.json["id"]) == (200, request["id"])

    # When the admin cancels within the grace period
    cancelled = org.call("DELETE", DELETION)
    assert cancelled.status == 200, cancelled.body
    assert cancelled.json["status"] == "cancelled"
    # Then everything works again, nothing was lost
    stored = workspace_item(stack, org.ws)
    assert stored is not None and stored["status"] == "active"
    assert "deletion_request_id" not in stored
    assert v.messages(conversation_id).status == 200
    assert org.call("GET", "/v1/privacy/requests").status == 200
    assert org.call("DELETE", DELETION).status == 404  # nothing scheduled any more


def test_the_purge_starts_after_30_days_and_not_before_and_leaves_nothing(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, frozen: list[datetime]
) -> None:
    # Given a workspace with visitors, conversations, an export package and a waiting request
    v = ps.visitor(stack, apps, widget, org)
    v.call("widget_update_visitor", json_body={"email": "purge-me@example.com"})
    conversation_id = v.start_conversation("Please keep this until the purge")
    other = ps.visitor(stack, apps, widget, org)
    other.start_conversation("another one")
    export_id = v.ask({"type": "export"}).json["id"]
    ps.run_jobs(stack, apps)
    assert ps.bucket_objects(stack, f"{org.ws}/{export_id}/")
    waiting_id = other.ask({"type": "delete", "email": "other@example.com"}).json["id"]
    verified = other.verify(waiting_id, ps.last_code("other@example.com"))
    assert verified.json["status"] == "awaiting_approval"
    deletion_id = org.call("POST", DELETION).json["id"]

    # The daily check does not start the purge during the grace period
    frozen[0] += timedelta(days=29, hours=23)
    assert daily(apps)["purges_started"] == 0
    assert ps.run_jobs(stack, apps) == 0
    # (the admin may still cancel until then; a day later it is too late)
    frozen[0] += timedelta(hours=2)
    late = org.call("DELETE", DELETION)
    assert (late.status, late.error_code) == (409, "deletion_not_cancellable")

    # Then the next daily check starts it, and the worker purges everything
    assert daily(apps)["purges_started"] == 1
    ps.run_jobs(stack, apps)
    item = ps.request_item(stack, org.ws, deletion_id)
    assert item is not None and item["status"] == "completed", item
    assert item["counts"]["workspaces.workspace"] >= 2  # the workspace and its widget key
    assert item["counts"]["conversations.conversation"] == 2
    assert item["counts"]["visitors.visitor"] == 2

    # Nothing of the workspace is left outside the privacy audit trail
    left = []
    for logical_id in sorted(stack.resources.by_type("AWS::DynamoDB::Table")):
        if logical_id == "PrivacyRequestsTable":
            continue
        for found in ps.scan_all(stack, logical_id):
            text = json.dumps(found, default=str)
            expiring_counter = logical_id == "EphemeralTable" and "#RATE#" in str(found["pk"])
            if org.ws in text and not expiring_counter:
                left.append((logical_id, found["pk"], found["sk"]))
    assert left == []
    assert ps.bucket_objects(stack, f"{org.ws}/") == {}
    assert (
        ddb.get(stack.table("ConversationsTable"), *keys.conversation(org.ws, conversation_id))
        is None
    )
    # The request that waited was cancelled with the workspace (its raw address dropped)
    waiting = ps.request_item(stack, org.ws, waiting_id)
    assert waiting is not None
    assert (waiting["status"], waiting["reason"]) == ("cancelled", "workspace_deleted")
    assert waiting["subject"]["value"] is None
    # And the proof remains: audit events and the tombstone, keyed hashes only
    audit = [
        i["action"]
        for i in ps.partition(stack, "PrivacyRequestsTable", item["pk"])
        if i["sk"].startswith("AUDIT#")
    ]
    assert audit == ["submit", "start", "complete"]
    tombstones = [
        t
        for t in ps.scan_all(stack, "PrivacyRequestsTable")
        if t.get("item_type") == "privacy_tombstone" and t["workspace_id"] == org.ws
    ]
    assert [t["subject_kind"] for t in tombstones] == ["workspace"]
