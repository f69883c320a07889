"""Every AWS call the analytics functions really make is allowed by their own roles, and the
roles grant no DynamoDB action they never use (moto does not enforce IAM)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.integration.analytics_support import (
    analytics_client,
    analytics_events,
    analytics_tap,
    ask,
    privacy_tap,
)
from tests.integration.dashboard_support import dev_issuer
from tests.integration.test_bot_least_privilege import Recorder
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.integration.widget_support import Visitor
from tests.support import HttpHandlerClient, LambdaContext
from yoosr import ids
from yoosr.provisioning import issue_widget_key
from yoosr.store import aws

Call = tuple[str, str, dict[str, Any]]


@pytest.fixture
def recording() -> Iterator[Recorder]:
    """DynamoDB calls made while a wrapped handler runs (Recorder.handler)."""
    recorder = Recorder()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if recorder.on:
            recorder.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    events = aws.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.*", record)
    yield recorder
    events.unregister("provide-client-params.dynamodb.*", record)


def dynamodb_grants(statements: list[dict[str, Any]]) -> set[str]:
    granted: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        for action in actions if isinstance(actions, list) else [actions]:
            if (
                action.startswith("dynamodb:")
                and "Stream" not in action
                and "Records" not in action
            ):
                granted.add(action)
    return granted - {"dynamodb:GetShardIterator"}


def check(stack: Any, function_logical_id: str, recorded: list[Call]) -> None:
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    statements = role_statements(stack, function_logical_id)
    assert sorted(p for p in needed if not allowed(statements, *p)) == []
    # Nothing broader: every DynamoDB action the role grants was needed.
    assert dynamodb_grants(statements) == {action for action, _ in needed}


def test_the_analytics_api_role_allows_exactly_what_it_does(
    stack: Any, recording: Recorder
) -> None:
    client = HttpHandlerClient(recording.handler(analytics_client(stack).handler))
    org_id = f"org_{uuid.uuid4().hex[:20]}"
    admin = dev_issuer().mint(org_id, f"user_a{uuid.uuid4().hex[:12]}", "admin")
    # An organization's first call provisions its workspace and the caller's agent record.
    assert ask(client, admin, "overview").status == 200
    query = {"metric": "csat.score", "interval": "hour", "from": "2025-06-01", "to": "2025-06-02"}
    assert ask(client, admin, "timeseries", query).status == 200
    assert ask(client, admin, "agents", {"format": "csv"}).status == 200
    assert ask(client, admin, "ai-usage").status == 200
    check(stack, "AnalyticsFunction", recording)


def test_the_consumer_role_allows_exactly_what_it_does(
    stack: Any, widget: HttpHandlerClient, recording: Recorder
) -> None:
    consumer = analytics_events(stack)
    tap = analytics_tap(stack)
    org_id = f"org_{uuid.uuid4().hex[:20]}"
    admin = dev_issuer().mint(org_id, f"user_a{uuid.uuid4().hex[:12]}", "admin")
    assert ask(analytics_client(stack), admin, "overview").status == 200
    key = issue_widget_key(stack.table("WorkspacesTable"), ids.workspace_id_for_org(org_id))
    visitor = Visitor(widget, key)
    visitor.start_session()
    visitor.start_conversation("Hello")
    handler = recording.handler(consumer.lambda_handler)
    delivered = tap.deliver(handler)
    assert delivered
    # A redelivery takes the already-counted path (cancelled transactions) too.
    assert handler({"Records": copy.deepcopy(delivered)}, LambdaContext()) == {
        "batchItemFailures": []
    }
    assert any(name == "TransactWriteItems" for _, name, _ in recording)
    check(stack, "AnalyticsEventsFunction", recording)


def test_the_consumer_role_allows_exactly_what_it_does_for_privacy_requests(
    stack: Any, widget: HttpHandlerClient, recording: Recorder
) -> None:
    apps = ps.apps(stack)
    consumer = analytics_events(stack)
    tap = privacy_tap(stack)
    org = ps.Org(stack, apps)
    visitor = ps.visitor(stack, apps, widget, org)
    created = org.create({"type": "access", "subject": {"visitor_id": visitor.visitor_id}})
    assert created.status == 201, created.body
    ps.run_jobs(stack, apps)
    handler = recording.handler(consumer.lambda_handler)
    delivered = tap.deliver(handler)
    assert {r["dynamodb"]["NewImage"]["action"]["S"] for r in delivered} >= {
        "submit",
        "complete",
    }
    assert handler({"Records": copy.deepcopy(delivered)}, LambdaContext()) == {
        "batchItemFailures": []
    }
    assert any(name == "TransactWriteItems" for _, name, _ in recording)
    # The consumer never reads the privacy table itself: only its stream (filtered)
    privacy_table = stack.table("PrivacyRequestsTable")
    assert not any(p.get("TableName") == privacy_table for _, _, p in recording)
    check(stack, "AnalyticsEventsFunction", recording)


def test_the_privacy_functions_gain_no_analytics_grant(stack: Any) -> None:
    """Counting privacy requests is the analytics consumer's job, from the stream: no privacy
    function may write (or read) the rollups, and the consumer may read the privacy table's
    stream only, never the table."""
    analytics = str(stack.resources.get_att("AnalyticsTable", "Arn"))
    privacy = str(stack.resources.get_att("PrivacyRequestsTable", "Arn"))
    for function in stack.resources.template.functions:
        for statement in role_statements(stack, function):
            resources = statement["Resource"]
            named = resources if isinstance(resources, list) else [resources]
            if function.startswith("Privacy"):
                assert analytics not in named, (function, statement)
            if function == "AnalyticsEventsFunction":
                assert privacy not in named and f"{privacy}/index/*" not in named, statement
