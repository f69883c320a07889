"""Every AWS call the analytics functions really make is allowed by their own roles, and the
roles grant no DynamoDB action they never use (moto does not enforce IAM)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.analytics_support import (
    analytics_client,
    analytics_events,
    analytics_tap,
    ask,
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
