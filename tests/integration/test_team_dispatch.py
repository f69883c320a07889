"""Team changes that free capacity wake the assignment engine
(yoosr.routing.dispatcher.dispatch_workspace), and nothing else does."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import Org, agent_routing_client, stored
from tests.support import HttpHandlerClient
from yoosr import clock
from yoosr.settings import AgentRoutingSettings
from yoosr.store import keys

DISPATCHER = "yoosr.routing.dispatcher"


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, list[str]]]:
    """A stand-in dispatcher that records its calls (the real one may not be built yet)."""
    recorded: list[tuple[Any, str, list[str]]] = []
    fake = types.ModuleType(DISPATCHER)

    def dispatch_workspace(settings: Any, workspace_id: str, department_ids: list[str]) -> int:
        recorded.append((settings, workspace_id, list(department_ids)))
        return 0

    fake.dispatch_workspace = dispatch_workspace  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, DISPATCHER, fake)
    return recorded


@pytest.fixture
def team(routing: HttpHandlerClient) -> dict[str, Any]:
    org = Org(routing)
    org.agent("list_agents")
    sales = org.admin("create_department", json_body={"name": "Sales"}).json["id"]
    support = org.admin("create_department", json_body={"name": "Support"}).json["id"]
    assert (
        org.admin(
            "update_agent",
            path_params={"user_id": org.agent_id},
            json_body={"departments": [sales]},
        ).status
        == 200
    )
    return {"org": org, "sales": sales, "support": support}


@pytest.fixture
def frozen() -> Iterator[list[float]]:
    now = [float(clock.epoch())]
    clock.freeze(lambda: now[0])
    yield now
    clock.unfreeze()


def test_coming_online_dispatches_the_agents_departments(
    team: dict[str, Any], calls: list[tuple[Any, str, list[str]]]
) -> None:
    org: Org = team["org"]
    assert calls == []  # setting departments of an offline agent woke nobody
    assert org.agent("set_status", json_body={"status": "online"}).status == 200
    assert len(calls) == 1
    settings, workspace_id, departments = calls[0]
    assert isinstance(settings, AgentRoutingSettings)
    assert workspace_id == org.workspace_id and departments == [team["sales"]]

    # Heartbeats of an agent already online change nothing.
    org.agent("set_status", json_body={"status": "online"})
    assert len(calls) == 1
    org.agent("set_status", json_body={"status": "away"})
    assert len(calls) == 1


def test_admin_changes_dispatch_only_when_capacity_or_departments_grow(
    team: dict[str, Any], calls: list[tuple[Any, str, list[str]]]
) -> None:
    org: Org = team["org"]
    path = {"user_id": org.agent_id}
    org.agent("set_status", json_body={"status": "online"})
    calls.clear()

    org.admin("update_agent", path_params=path, json_body={"capacity": 3})  # lowered from 5
    assert calls == []
    org.admin("update_agent", path_params=path, json_body={"capacity": 6})
    assert [c[2] for c in calls] == [[team["sales"]]]
    org.admin(
        "update_agent",
        path_params=path,
        json_body={"departments": [team["sales"], team["support"]]},
    )
    assert [c[2] for c in calls][1:] == [[team["support"]]]  # only the new department
    org.admin("update_agent", path_params=path, json_body={"departments": [team["support"]]})
    assert len(calls) == 2

    org.agent("set_status", json_body={"status": "away"})
    org.admin("update_agent", path_params=path, json_body={"capacity": 9})
    assert len(calls) == 2  # an away agent takes nothing, so there is nothing to wake


def test_heartbeat_after_expiry_counts_as_coming_online(
    team: dict[str, Any], calls: list[tuple[Any, str, list[str]]], frozen: list[float]
) -> None:
    org: Org = team["org"]
    org.agent("set_status", json_body={"status": "online"})
    frozen[0] += 600  # the dashboard slept; the agent has been offline since
    org.agent("set_status", json_body={"status": "online"})
    assert len(calls) == 2


def test_a_failing_dispatcher_does_not_fail_the_status_change(
    stack: Any, team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    org: Org = team["org"]
    broken = types.ModuleType(DISPATCHER)

    def dispatch_workspace(settings: Any, workspace_id: str, department_ids: list[str]) -> int:
        raise RuntimeError("engine down")

    broken.dispatch_workspace = dispatch_workspace  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, DISPATCHER, broken)
    response = org.agent("set_status", json_body={"status": "online"})
    assert response.status == 200 and response.json["status"] == "online"
    item = stored(stack, *keys.agent(org.workspace_id, org.agent_id))
    assert item is not None and item["status"] == "online"


def test_the_real_dispatcher_is_called_when_it_exists(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = pytest.importorskip(DISPATCHER)
    real = importlib.import_module(DISPATCHER).dispatch_workspace
    seen: list[list[str]] = []

    def spy(settings: Any, workspace_id: str, department_ids: list[str]) -> int:
        seen.append(list(department_ids))
        return int(real(settings, workspace_id, department_ids))

    monkeypatch.setattr(module, "dispatch_workspace", spy)
    org: Org = team["org"]
    response = org.agent("set_status", json_body={"status": "online"})
    assert response.status == 200, response.body
    assert seen == [[team["sales"]]]
