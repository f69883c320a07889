"""Every AWS call the routing paths really make is allowed by the calling function's own role
in template.yaml (moto does not enforce IAM): the widget's handoff, the inbox API, the routing
stream consumer and the sweep."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.support import HttpHandlerClient, LambdaContext, load_function, sample_event
from yoosr.store import aws

Calls = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture
def calls() -> Iterator[Calls]:
    recorded: Calls = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        recorded.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    client = aws.client("dynamodb")
    client.meta.events.register("provide-client-params.dynamodb.*", record)
    yield recorded
    client.meta.events.unregister("provide-client-params.dynamodb.*", record)


def missing(stack: Any, function: str, recorded: Calls) -> list[tuple[str, str]]:
    statements = role_statements(stack, function)
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    assert needed, f"{function}: no call recorded"
    return sorted(p for p in needed if not allowed(statements, *p))


def test_routing_roles_allow_every_call_they_make(
    stack: Any, routing: HttpHandlerClient, widget: HttpHandlerClient, calls: Calls
) -> None:
    team = Team(Org(routing), widget, stack)
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=1)
    bob = team.agent("bob", [sales], capacity=1, status="offline")
    label = team.org.admin("create_label", json_body={"name": "VIP"}).json["id"]
    tap = StreamTap(stack, "AgentRoutingEventsFunction")
    events = load_function("agent_routing_events")
    sweeper = load_function("agent_routing_sweep")
    visitors = [team.visitor() for _ in range(2)]
    conversation_ids = [v.start_conversation("hi") for v in visitors]

    # The widget's handoff (and the conversation list with queue positions)
    calls.clear()
    for visitor, conversation_id in zip(visitors, conversation_ids, strict=True):
        assert ask_for_human(visitor, conversation_id).status == 202
        visitor.call("widget_list_conversations")
    visitors[0].post(conversation_ids[0], "still there?")
    assert missing(stack, "WidgetIngestFunction", calls) == []

    # The stream consumer: dispatch, waiting notice, repair of an unqueued conversation
    calls.clear()
    tap.deliver(events.lambda_handler)
    events.lambda_handler(sample_event("agent_routing_events_owner_changed"), LambdaContext())
    assert missing(stack, "AgentRoutingEventsFunction", calls) == []

    # The inbox API, every route
    first, second = conversation_ids
    path = {"conversation_id": first}
    calls.clear()
    team.inbox("list_conversations", ann.token, query={"assignee": "me", "label": label})
    team.inbox("list_conversations", ann.token, query={"department_id": sales})
    team.inbox("list_conversations", ann.token)
    team.inbox("get_conversation", ann.token, path_params=path)
    team.inbox("list_messages", ann.token, path_params=path)
    team.inbox(
        "post_message",
        ann.token,
        path_params=path,
        json_body={"text": "hello", "client_message_id": "c1"},
    )
    team.inbox(
        "post_message",
        ann.token,
        path_params=path,
        json_body={"text": "hello", "client_message_id": "c1"},
    )
    team.inbox(
        "post_message", ann.token, path_params=path, json_body={"text": "note", "private": True}
    )
    team.inbox("labels", ann.token, path_params=path, json_body={"add": [label]})
    team.inbox("assign", ann.token, path_params=path, json_body={"agent_id": bob.user_id})
    team.inbox("assign", ann.token, path_params=path, json_body={"department_id": sales})
    team.inbox("resolve", ann.token, path_params={"conversation_id": second})
    team.inbox("reopen", ann.token, path_params={"conversation_id": second})
    assert missing(stack, "AgentRoutingFunction", calls) == []

    # The sweep: the offline agent's conversation goes back, queues are dispatched
    team.inbox("assign", ann.token, path_params=path, json_body={"agent_id": bob.user_id})
    calls.clear()
    sweeper.lambda_handler(sample_event("agent_routing_sweep_schedule"), LambdaContext())
    assert missing(stack, "AgentRoutingSweepFunction", calls) == []
