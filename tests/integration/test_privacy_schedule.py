"""The daily privacy check (frozen clock): a request still open after its 30 days is flagged
overdue once (audited, metric PrivacyRequestsOverdue every day it stays open), an extended one
only after its new date, a closed one never; a queued request nobody started is enqueued again;
and the tombstone replay erases again what a backup restore brought back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.support import HttpHandlerClient
from yoosr.store import ddb, keys


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


def daily(apps: ps.Apps, capfd: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], int]:
    """Run the check; returns its report and the overdue metric it published (EMF)."""
    capfd.readouterr()
    report = dict(apps.schedule.lambda_handler({}, ps.Deadline(120_000)))
    published = None
    for line in capfd.readouterr().out.splitlines():
        if '"PrivacyRequestsOverdue"' in line and line.startswith('{"_aws"'):
            published = json.loads(line)["PrivacyRequestsOverdue"]
    assert published is not None, "the metric was not published"
    value = published[0] if isinstance(published, list) else published
    return report, int(value)


def test_overdue_requests_are_flagged_once_and_counted_daily(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    org: ps.Org,
    frozen: list[datetime],
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Given three requests waiting for an admin, one extended by 10 days, and one completed
    v = ps.visitor(stack, apps, widget, org)
    waiting = []
    for n in range(3):
        email = f"late-{n}-{org.ws[-6:]}@example.com"
        request_id = v.ask({"type": "delete", "email": email}).json["id"]
        v.verify(request_id, ps.last_code(email))
        waiting.append(request_id)
    extended = waiting.pop()
    assert org.decide(extended, "extend", {"days": 10, "reason": "complexity"}).status == 200
    done = org.create({"type": "access", "subject": {"visitor_id": v.visitor_id}}).json["id"]
    ps.run_jobs(stack, apps)

    # On day 30 nothing is overdue
    frozen[0] += timedelta(days=29, hours=23)
    report, _ = daily(apps, capfd)
    assert all(not org.get(r).json["overdue"] for r in [*waiting, extended, done])
    # On day 31 the two unextended ones are flagged (and counted), once
    frozen[0] += timedelta(days=1)
    report, overdue = daily(apps, capfd)
    assert report["flagged"] >= 2 and overdue >= 2
    for request_id in waiting:
        detail = org.get(request_id).json
        assert detail["overdue"] is True and detail["status"] == "awaiting_approval"
        assert [e["action"] for e in detail["audit"]][-1] == "flag_overdue"
    assert org.get(extended).json["overdue"] is False
    assert org.get(done).json["overdue"] is False
    # The next day they are counted again but not flagged (or audited) twice
    frozen[0] += timedelta(days=1)
    report, overdue = daily(apps, capfd)
    assert overdue >= 2
    assert [e["action"] for e in org.get(waiting[0]).json["audit"]].count("flag_overdue") == 1
    # After its extension the third one is overdue too; a late answer keeps the flag
    frozen[0] += timedelta(days=10)
    daily(apps, capfd)
    assert org.get(extended).json["overdue"] is True
    approved = org.decide(waiting[0], "approve")
    assert approved.status == 200
    ps.run_jobs(stack, apps)
    late = org.get(waiting[0]).json
    assert (late["status"], late["overdue"]) == ("completed", True)


def test_a_queued_request_nobody_started_is_enqueued_again(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, frozen: list[datetime]
) -> None:
    v = ps.visitor(stack, apps, widget, org)
    request_id = v.ask({"type": "export"}).json["id"]
    lost = ps.jobs(stack).receive(10)  # the start message is lost
    for message in lost:
        ps.jobs(stack).client.delete_message(
            QueueUrl=ps.jobs(stack).url, ReceiptHandle=message["ReceiptHandle"]
        )
    frozen[0] += timedelta(minutes=20)
    report = apps.schedule.lambda_handler({}, ps.Deadline(120_000))
    assert report["requeued"] >= 1
    ps.run_jobs(stack, apps)
    assert v.status(request_id).json["status"] == "completed"


def test_tombstones_are_replayed_after_a_restore(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given a visitor erased from the widget, and one erased by email
    anonymous = ps.visitor(stack, apps, widget, org)
    anonymous.start_conversation("restore me not")
    emailed = ps.visitor(stack, apps, widget, org)
    emailed.call("widget_update_visitor", json_body={"email": "restored@example.com"})
    saved = {
        name: ps.partition(stack, "VisitorsTable", keys.visitor_pk(org.ws, str(v.visitor_id)))
        for name, v in (("anonymous", anonymous), ("emailed", emailed))
    }
    anonymous.ask({"type": "delete"})
    org.create({"type": "delete", "subject": {"email": "restored@example.com"}})
    ps.run_jobs(stack, apps)
    for items in saved.values():
        assert ddb.get(stack.table("VisitorsTable"), items[0]["pk"], items[0]["sk"]) is None

    # When a backup restore brings the visitor items back
    for items in saved.values():
        for item in items:
            ddb.put(stack.table("VisitorsTable"), item)
    # And the replay command runs (PrivacyScheduleFunction, {"command": "replay_tombstones"})
    report = apps.schedule.lambda_handler(
        {"command": "replay_tombstones", "workspace_id": org.ws}, ps.Deadline(120_000)
    )
    assert report["replayed"] == 2
    ps.run_jobs(stack, apps)

    # Then they are erased again, found by the keyed hashes the tombstones hold
    for items in saved.values():
        assert ddb.get(stack.table("VisitorsTable"), items[0]["pk"], items[0]["sk"]) is None
    replays = [
        r["id"]
        for r in org.call("GET", "/v1/privacy/requests").json["items"]
        if r["type"] == "delete" and r["status"] == "completed"
    ]
    assert len(replays) == 4
