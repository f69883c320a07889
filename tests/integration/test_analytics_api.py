"""The analytics API under moto: admin only, range validation (400 naming the parameter),
zeros for empty ranges, one workspace's figures never in another's, CSV, TTL-expired items,
and the consumer's exactly-once writes and partial batch failures."""

from __future__ import annotations

import copy
import csv
import io
import uuid
from typing import Any

import pytest

from tests.integration.analytics_support import (
    analytics_client,
    analytics_events,
    analytics_tap,
    ask,
    rollup_items,
)
from tests.integration.dashboard_support import dev_issuer
from tests.integration.widget_support import Visitor
from tests.support import HttpHandlerClient, LambdaContext, sample_event
from yoosr import clock, ids
from yoosr.analytics import rollup
from yoosr.provisioning import issue_widget_key
from yoosr.store import ddb

ENDPOINTS = ("overview", "timeseries", "agents", "ai-usage")


class Tenant:
    """A Clerk organization seen through the analytics API (provisioned on its first call)."""

    def __init__(self, client: HttpHandlerClient) -> None:
        self.client = client
        self.org_id = f"org_{uuid.uuid4().hex[:20]}"
        self.admin_token = dev_issuer().mint(self.org_id, f"user_a{uuid.uuid4().hex[:12]}", "admin")
        self.agent_token = dev_issuer().mint(
            self.org_id, f"user_m{uuid.uuid4().hex[:12]}", "member"
        )

    @property
    def workspace_id(self) -> str:
        return ids.workspace_id_for_org(self.org_id)

    def get(self, endpoint: str, token: str | None = None, **query: str) -> Any:
        return ask(self.client, token or self.admin_token, endpoint, query)


@pytest.fixture(scope="module")
def client(stack: Any) -> HttpHandlerClient:
    return analytics_client(stack)


@pytest.fixture
def tenant(client: HttpHandlerClient) -> Tenant:
    return Tenant(client)


def today() -> str:
    return clock.now().date().isoformat()  # a new workspace has no time zone: UTC


# ---------------------------------------------------------------- who may read


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_agents_get_403_and_strangers_401(tenant: Tenant, endpoint: str) -> None:
    query = {"metric": "conversations.started"}
    assert tenant.get(endpoint, tenant.admin_token, **query).status == 200
    refused = tenant.get(endpoint, tenant.agent_token, **query)
    assert refused.status == 403 and refused.error_code == "forbidden"
    anonymous = tenant.client.call(
        "analytics_" + endpoint.replace("-", "_"), headers={"authorization": None}
    )
    assert anonymous.status == 401


def test_preflight_is_answered_without_a_token(client: HttpHandlerClient) -> None:
    response = client.call("analytics_preflight")
    assert response.status in (200, 204)
    assert "GET" in response.headers.get("access-control-allow-methods", "")


# ---------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-06-11", "to": "2025-06-10"}, "from"),
        ({"from": "2024-01-01", "to": "2025-06-10"}, "to"),  # 527 days
        ({"from": "2025-05-01", "to": "2025-06-10", "interval": "hour"}, "interval"),  # 41 days
        ({"from": "2025-02-30"}, "from"),
        ({"to": "10/06/2025"}, "to"),
        ({"interval": "week"}, "interval"),
        ({"metric": "conversations.deleted"}, "metric"),
        ({"metric": ""}, "metric"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_ranges_and_parameters_are_400_naming_the_parameter(
    tenant: Tenant, query: dict[str, str], field: str
) -> None:
    response = tenant.get("timeseries", **{"metric": "csat.score", **query})
    assert response.status == 400, response.body
    assert response.error_code == "invalid_query"
    assert [d["field"] for d in response.json["error"]["details"]] == [field]


def test_the_longest_ranges_are_accepted(tenant: Tenant) -> None:
    assert tenant.get("overview", **{"from": "2024-05-07", "to": "2025-06-10"}).status == 200
    hourly = tenant.get(
        "timeseries",
        metric="conversations.started",
        interval="hour",
        **{"from": "2025-05-11", "to": "2025-06-10"},
    )
    assert hourly.status == 200
    assert len(hourly.json["points"]) == 31 * 24


def test_an_empty_range_is_zeros_not_an_error(tenant: Tenant) -> None:
    overview = tenant.get("overview").json
    assert overview["to"] == today()  # default: the 30 days up to today
    assert overview["conversations"] == dict.fromkeys(
        ("started", "bot_handled", "bot_resolved", "handed_off", "resolved", "reopened"), 0
    )
    assert overview["first_response"] == {"median_seconds": None, "p90_seconds": None}
    assert overview["csat"] == {"score": None, "responses": 0, "response_rate": None}
    assert overview["bot"]["containment_rate"] is None
    assert overview["ai"]["cost_usd"] == "0"
    series = tenant.get("timeseries", metric="conversations.started").json
    assert len(series["points"]) == 30 and {p["value"] for p in series["points"]} == {0}
    assert tenant.get("agents").json["items"] == []
    usage = tenant.get("ai-usage").json
    assert usage["items"] == [] and usage["totals"]["calls"] == 0


def test_a_range_in_the_future_is_accepted_and_stops_at_now(tenant: Tenant) -> None:
    series = tenant.get(
        "timeseries", metric="conversations.started", **{"from": today(), "to": "2099-01-01"}
    )
    assert series.status == 400  # longer than 400 days
    now = clock.now()
    tomorrow = now.date().fromordinal(now.date().toordinal() + 1).isoformat()
    series = tenant.get("timeseries", metric="conversations.started", to=tomorrow)
    assert series.status == 200
    assert series.json["points"][-1]["period"] == today()


# ---------------------------------------------------------------- isolation and CSV


def test_one_workspace_never_sees_anothers_figures(
    stack: Any, widget: HttpHandlerClient, client: HttpHandlerClient
) -> None:
    acme, globex = Tenant(client), Tenant(client)
    consumer = analytics_events(stack)
    tap = analytics_tap(stack)
    # Given two conversations in acme's workspace and one in globex's
    for tenant, count in ((acme, 2), (globex, 1)):
        assert tenant.get("overview").status == 200  # provisions the workspace
        key = issue_widget_key(stack.table("WorkspacesTable"), tenant.workspace_id)
        for _ in range(count):
            visitor = Visitor(widget, key)
            visitor.start_session()
            visitor.start_conversation("Hello")
    tap.deliver(consumer.lambda_handler)
    # Then each admin sees exactly their own
    assert acme.get("overview").json["conversations"]["started"] == 2
    assert globex.get("overview").json["conversations"]["started"] == 1
    assert {item["pk"] for item in rollup_items(stack, acme.workspace_id)} == {
        f"{acme.workspace_id}#ROLLUP"
    }


def test_csv_by_parameter_or_accept_header(
    stack: Any, widget: HttpHandlerClient, tenant: Tenant
) -> None:
    tenant.get("overview")
    tap = analytics_tap(stack)
    key = issue_widget_key(stack.table("WorkspacesTable"), tenant.workspace_id)
    visitor = Visitor(widget, key)
    visitor.start_session()
    visitor.start_conversation("Hello")
    tap.deliver(analytics_events(stack).lambda_handler)

    by_param = tenant.get("overview", format="csv")
    by_header = ask(tenant.client, tenant.admin_token, "overview", headers={"accept": "text/csv"})
    for response in (by_param, by_header):
        assert response.status == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].startswith(
            'attachment; filename="yoosr-overview-'
        )
        assert response.body.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(by_param.body)))
    assert rows[0] == ["metric", "value"]
    values = {name: value for name, value in rows[1:]}
    assert values["conversations.started"] == "1" and values["to"] == today()
    assert values["csat.score"] == ""  # null: nothing rated
    # JSON stays the default, and ?format=json wins over the header
    assert tenant.get("overview").headers["content-type"] == "application/json"
    json_wins = ask(
        tenant.client,
        tenant.admin_token,
        "overview",
        query={"format": "json"},
        headers={"accept": "text/csv"},
    )
    assert json_wins.json["conversations"]["started"] == 1
    for endpoint in ("timeseries", "agents", "ai-usage"):
        response = tenant.get(endpoint, metric="conversations.started", format="csv")
        assert response.status == 200 and response.body.count("\r\n") >= 1, endpoint
    series = list(
        csv.reader(
            io.StringIO(tenant.get("timeseries", metric="conversations.started", format="csv").body)
        )
    )
    assert series[0] == ["period", "start", "conversations.started"] and len(series) == 31


def test_expired_items_are_not_read(stack: Any, tenant: Tenant) -> None:
    tenant.get("overview")
    table = stack.table("AnalyticsTable")
    sk = rollup.sort_key(today(), "conversations.started")
    pk = rollup.partition_key(tenant.workspace_id)
    counter = "c#channel=widget|department_id=-"
    ddb.put(table, {"pk": pk, "sk": sk, counter: 5, "expires_at": clock.epoch() - 1})
    assert tenant.get("overview").json["conversations"]["started"] == 0
    ddb.put(table, {"pk": pk, "sk": sk, counter: 5})
    assert tenant.get("overview").json["conversations"]["started"] == 5


# ---------------------------------------------------------------- the consumer


def test_a_sample_batch_counts_once_and_a_bad_record_fails_alone(stack: Any) -> None:
    consumer = analytics_events(stack)
    event = copy.deepcopy(sample_event("analytics_events_handoff"))
    ws = f"ws_{uuid.uuid4().hex[:26].upper()}"
    for record in event["Records"]:
        for image in ("NewImage", "OldImage"):
            if image in record["dynamodb"]:
                record["dynamodb"][image]["workspace_id"]["S"] = ws
    # Given a batch with a record no writer writes (a conversation without its id) in it
    broken = copy.deepcopy(event["Records"][1])
    broken["eventID"] = "broken"
    broken["dynamodb"]["SequenceNumber"] = "2003"
    broken["dynamodb"]["NewImage"].pop("conversation_id")
    event["Records"].insert(1, broken)

    first = consumer.lambda_handler(copy.deepcopy(event), LambdaContext())
    assert first == {"batchItemFailures": [{"itemIdentifier": "2003"}]}
    stored = rollup_items(stack, ws)
    metrics = {item["sk"].split("#", 2)[2] for item in stored if item["sk"].startswith("D#")}
    # The bot's handoff message (with its model call) and the handoff itself
    assert {
        "messages",
        "ai.calls",
        "ai.prompt_tokens",
        "conversations.handed_off",
        "bot.handed_off",
        "bot.time_to_handoff",
    } <= metrics
    handed_off = next(i for i in stored if i["sk"] == "D#2026-11-29#conversations.handed_off")
    assert handed_off["c#department_id=dept_01JZ0000000000000000000000"] == 1
    # Delivered again: nothing moves
    again = consumer.lambda_handler(copy.deepcopy(event), LambdaContext())
    assert len(again["batchItemFailures"]) == 1
    assert rollup_items(stack, ws) == stored
