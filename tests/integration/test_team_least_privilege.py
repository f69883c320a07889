"""Every AWS call the team routes make is allowed by AgentRoutingRole in template.yaml."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from yoosr.store import aws


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    client = aws.client("dynamodb")
    client.meta.events.register("provide-client-params.*.*", record)
    yield calls
    client.meta.events.unregister("provide-client-params.*.*", record)


def test_agent_routing_role_allows_every_team_call(stack: Any, recorded: list) -> None:
    org = Org(agent_routing_client(stack))
    org.agent("set_status", json_body={"status": "online"})
    dept = org.admin("create_department", json_body={"name": "Billing"}).json["id"]
    department = {"department_id": dept}
    org.agent("get_department", path_params=department)
    org.admin("update_department", path_params=department, json_body={"name": "Bills"})
    org.admin(
        "update_agent",
        path_params={"user_id": org.agent_id},
        json_body={"departments": [dept], "capacity": 2},
    )
    org.admin("update_agent", path_params={"user_id": org.agent_id}, json_body={"capacity": 3})
    org.agent("list_agents")
    org.admin("delete_department", path_params=department)  # refused: the agent is a member
    label = {"label_id": org.admin("create_label", json_body={"name": "VIP"}).json["id"]}
    org.admin("update_label", path_params=label, json_body={"name": "Gold"})
    org.agent("list_labels", query={"limit": "1"})
    org.admin("delete_label", path_params=label)
    canned = {
        "canned_id": org.admin(
            "create_canned", json_body={"shortcut": "hi", "title": "Hi", "content": "Hello!"}
        ).json["id"]
    }
    org.admin("update_canned", path_params=canned, json_body={"shortcut": "hello"})
    org.agent("list_canned", query={"shortcut": "hello"})
    org.agent("list_canned", query={"q": "he"})
    org.admin("delete_canned", path_params=canned)

    statements = role_statements(stack, "AgentRoutingFunction")
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    assert {action for action, _ in needed} >= {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert sorted(p for p in needed if not allowed(statements, *p)) == []
