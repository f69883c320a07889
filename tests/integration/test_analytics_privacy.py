"""Privacy request figures, end to end: the privacy functions change requests as they always
do (dashboard API, widget API, worker, daily check); each change's audit event reaches the
analytics consumer through the PrivacyRequestsTable stream and the template's filter; the
overview (JSON and CSV) and the timeseries report received / completed / completed on time /
overdue / denied on the workspace's local days, each once however often the stream delivers
it; another workspace sees none of it; the backfill rebuilds the same rollup items.

The clock is frozen at 2025-06-10 22:30 UTC, which is 00:30 on 11 June in Oslo (the
workspace's time zone): a count on the UTC day would land on the 10th."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.template import load_template
from scripts import backfill_analytics
from tests.integration import privacy_support as ps
from tests.integration.analytics_support import (
    analytics_client,
    analytics_events,
    ask,
    privacy_tap,
    rollup_items,
)
from tests.integration.routing_support import StreamTap
from tests.support import ROOT, HttpHandlerClient, LambdaContext
from yoosr import ids
from yoosr.analytics import events
from yoosr.provisioning import issue_widget_key, provision_workspace

ZONE = "Europe/Oslo"
T0 = datetime(2025, 6, 10, 22, 30, tzinfo=UTC)
RANGE = {"from": "2025-06-01", "to": "2025-07-31"}


def provisioned(stack: Any, apps: ps.Apps, name: str) -> ps.Org:
    """An organization whose workspace counts its days in Oslo."""
    org = ps.Org(stack, apps, provision=False)
    table = stack.table("WorkspacesTable")
    provision_workspace(
        table,
        org.org_id,
        name,
        {
            "allowed_origins": [ps.ORIGIN],
            "identity_secret": "s3cret",
            "business_hours": {"timezone": ZONE, "weekly": {}},
        },
    )
    org.widget_key = issue_widget_key(table, ids.workspace_id_for_org(org.org_id))
    return org


@dataclass
class Outcome:
    stack: Any
    acme: ps.Org
    globex: ps.Org
    client: HttpHandlerClient
    consumer: Any
    delivered: list[dict[str, Any]]
    items_after_redelivery: list[dict[str, Any]]


def deliver_twice(
    tap: StreamTap, consumer: Any, delivered: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Deliver what the stream has now, then the same records again (a Lambda retry), the
    second time in one batch with duplicates inside it."""
    records = tap.deliver(consumer.lambda_handler)
    assert records
    again = copy.deepcopy(records + records[::-1])
    assert consumer.lambda_handler({"Records": again}, LambdaContext()) == {"batchItemFailures": []}
    delivered += records
    return records


@pytest.fixture(scope="module")
def outcome(stack: Any, widget: HttpHandlerClient) -> Iterator[Outcome]:
    apps = ps.apps(stack)
    consumer = analytics_events(stack)
    client = analytics_client(stack)
    tap = privacy_tap(stack)
    delivered: list[dict[str, Any]] = []
    with ps.frozen_clock(T0) as now:
        acme = provisioned(stack, apps, "Acme")
        globex = provisioned(stack, apps, "Globex")
        visitor = ps.visitor(stack, apps, widget, acme)
        subject = {"visitor_id": visitor.visitor_id}
        # Given at 00:30 Oslo: an access request answered two hours later (on time)
        quick = acme.create({"type": "access", "subject": subject})
        assert quick.status == 201, quick.body
        # a visitor's erasure by email that an admin denies
        email = f"deny-{acme.ws[-6:]}@example.com"
        denied = visitor.ask({"type": "delete", "email": email})
        assert denied.status in (201, 202), denied.body
        denied_id = denied.json["id"]
        assert acme.decide(denied_id, "deny", {"reason": "other"}).status == 200
        # and globex's own request
        stranger = ps.visitor(stack, apps, widget, globex)
        other = globex.create({"type": "export", "subject": {"visitor_id": stranger.visitor_id}})
        assert other.status == 201, other.body
        deliver_twice(tap, consumer, delivered)
        now[0] = T0 + timedelta(hours=2)
        ps.run_jobs(stack, apps)
        assert acme.get(quick.json["id"]).json["status"] == "completed"
        deliver_twice(tap, consumer, delivered)
        # An export received at 00:30 Oslo on 11 June that nobody answers for 31 days: the
        # daily check flags it overdue, and it completes an hour later (late)
        now[0] = T0 + timedelta(hours=2, minutes=1)
        late = acme.create({"type": "export", "subject": subject})
        assert late.status == 201, late.body
        deliver_twice(tap, consumer, delivered)
        now[0] = T0 + timedelta(days=31)
        apps.schedule.lambda_handler({}, ps.Deadline(120_000))
        assert acme.get(late.json["id"]).json["overdue"] is True
        now[0] = T0 + timedelta(days=31, hours=1)
        ps.run_jobs(stack, apps)
        done = acme.get(late.json["id"]).json
        assert (done["status"], done["overdue"]) == ("completed", True)
        recent = deliver_twice(tap, consumer, delivered)
        items = rollup_items(stack, acme.ws)
        # The day's records delivered again later, in other batches, while their markers live
        # (a stream record lives 24 h, a marker 3 days): nothing moves
        now[0] += timedelta(hours=20)
        for start in range(0, len(recent), 1):
            batch = copy.deepcopy(recent[start : start + 1])
            assert consumer.lambda_handler({"Records": batch}, LambdaContext()) == {
                "batchItemFailures": []
            }
        yield Outcome(
            stack,
            acme,
            globex,
            client,
            consumer,
            delivered,
            items,
        )


def overview(outcome: Outcome, org: ps.Org, **query: str) -> dict[str, Any]:
    response = ask(outcome.client, org.token(), "overview", {**RANGE, **query})
    assert response.status == 200, response.body
    return dict(response.json)


def test_the_overview_counts_each_request_once(outcome: Outcome) -> None:
    assert overview(outcome, outcome.acme)["privacy"] == {
        "received": 3,  # quick, denied, late
        "completed": 2,  # quick, late
        "completed_on_time": 1,  # quick
        "overdue": 1,  # late, flagged by the daily check
        "denied": 1,
        "cancelled": 0,
    }
    # Redelivery (twice per phase, then the whole stream again) changed no stored item
    assert rollup_items(outcome.stack, outcome.acme.ws) == outcome.items_after_redelivery


def test_globex_sees_only_its_own_request(outcome: Outcome) -> None:
    privacy = overview(outcome, outcome.globex)["privacy"]
    assert privacy["received"] == 1 and privacy["denied"] == 0 and privacy["overdue"] == 0
    assert privacy["completed"] == privacy["completed_on_time"] == 1
    # and no acme figure is stored under globex's key, or the other way round
    stored = rollup_items(outcome.stack, outcome.globex.ws)
    assert stored and all(i["pk"].startswith(f"{outcome.globex.ws}#") for i in stored)
    # an agent of acme gets no figures at all
    forbidden = ask(outcome.client, outcome.acme.token("agent"), "overview", RANGE)
    assert forbidden.status == 403


def test_days_are_the_workspace_local_days(outcome: Outcome) -> None:
    query = {
        "metric": "privacy.received",
        "interval": "day",
        "from": "2025-06-10",
        "to": "2025-06-11",
    }
    response = ask(outcome.client, outcome.acme.token(), "timeseries", query)
    assert response.status == 200, response.body
    # 22:30 UTC on the 10th is the 11th in Oslo
    assert [(p["period"], p["value"]) for p in response.json["points"]] == [
        ("2025-06-10", 0),
        ("2025-06-11", 3),
    ]
    late = {**query, "metric": "privacy.completed", "from": "2025-07-11", "to": "2025-07-12"}
    points = ask(outcome.client, outcome.acme.token(), "timeseries", late).json["points"]
    # The late one completed at 23:30 UTC on 11 July: 01:30 on the 12th in Oslo
    assert [(p["period"], p["value"]) for p in points] == [("2025-07-11", 0), ("2025-07-12", 1)]
    assert overview(outcome, outcome.acme, to="2025-06-30")["privacy"]["completed"] == 1


def test_the_csv_overview_has_the_privacy_rows(outcome: Outcome) -> None:
    response = ask(outcome.client, outcome.acme.token(), "overview", {**RANGE, "format": "csv"})
    assert response.status == 200
    rows = dict(line.split(",", 1) for line in response.body.strip().split("\r\n")[1:])
    assert {k: v for k, v in rows.items() if k.startswith("privacy.")} == {
        "privacy.received": "3",
        "privacy.completed": "2",
        "privacy.completed_on_time": "1",
        "privacy.overdue": "1",
        "privacy.denied": "1",
        "privacy.cancelled": "0",
    }


def test_only_audit_events_reach_the_consumer(outcome: Outcome) -> None:
    """No request item, code or task (which may hold a raw identifier) passes the filter."""
    images = [r["dynamodb"]["NewImage"] for r in outcome.delivered]
    assert images and {i["item_type"]["S"] for i in images} == {"privacy_audit"}
    assert {i["action"]["S"] for i in images} <= set(events.PRIVACY_AUDIT_ACTIONS)
    assert not any("@" in json.dumps(i) for i in images)
    assert all("subject" not in i and "note" not in i for i in images)


def test_the_template_filter_selects_the_counted_actions() -> None:
    template = load_template(ROOT / "template.yaml")
    table = template.resources["PrivacyRequestsTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    (source,) = [
        s
        for s in template.stream_sources
        if s.function == "AnalyticsEventsFunction" and s.table == "PrivacyRequestsTable"
    ]
    (pattern,) = source.filters
    image = pattern["dynamodb"]["NewImage"]
    assert pattern["eventName"] == ["INSERT"]
    assert image["item_type"] == {"S": ["privacy_audit"]}
    assert sorted(image["action"]["S"]) == list(events.PRIVACY_AUDIT_ACTIONS)
    # AWS advises at most two consumers per stream shard: this stream has one
    consumers = [s for s in template.stream_sources if s.table == "PrivacyRequestsTable"]
    assert len(consumers) == 1


def test_the_backfill_rebuilds_the_privacy_rollups(outcome: Outcome, capsys: Any) -> None:
    stack = outcome.stack
    table = stack.table("AnalyticsTable")
    before = rollup_items(stack, outcome.acme.ws)
    from yoosr.store import aws, ddb

    lost = next(i for i in before if i["sk"].startswith("D#") and "privacy.received" in i["sk"])
    aws.client("dynamodb").delete_item(TableName=table, Key=ddb.key(lost["pk"], lost["sk"]))
    assert rollup_items(stack, outcome.acme.ws) != before
    code = backfill_analytics.main(
        [
            "--workspace",
            outcome.acme.ws,
            "--workspaces-table",
            stack.table("WorkspacesTable"),
            "--conversations-table",
            stack.table("ConversationsTable"),
            "--analytics-table",
            table,
            "--privacy-requests-table",
            stack.table("PrivacyRequestsTable"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["privacy_requests"], report["timezone"]) == (3, ZONE)
    assert rollup_items(stack, outcome.acme.ws) == before
