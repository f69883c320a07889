"""Who may touch which team object: agents get 403 on every admin team route, another
workspace's admin and agent get 404 for every object, and every team route is in the role
table and the template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import load_template
from tests.integration.dashboard_support import Org, agent_routing_client, stored
from tests.support import EVENTS, ROOT, HttpHandlerClient
from yoosr.dashboard.access import ADMIN, ROUTE_ROLES
from yoosr.store import keys

TEAM_PREFIXES = ("/v1/departments", "/v1/agents", "/v1/labels", "/v1/canned-responses")
TEAM_ROUTES = {
    route: role for route, role in ROUTE_ROLES.items() if route[1].startswith(TEAM_PREFIXES)
}
# A body each admin route would accept, so a 403 can only come from the role check.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "create_department": {"name": "Ops"},
    "update_department": {"name": "Ops"},
    "update_agent": {"capacity": 3},
    "create_label": {"name": "Ops"},
    "update_label": {"name": "Ops"},
    "create_canned": {"shortcut": "ops", "title": "Ops", "content": "Ops"},
    "update_canned": {"title": "Ops"},
}


def samples() -> dict[tuple[str, str], str]:
    """(method, path template) → sample event name, for every team sample in events/."""
    found = {}
    for path in EVENTS.glob("agent_routing_team_*.json"):
        method, template = json.loads(path.read_text())["routeKey"].split(" ", 1)
        found[(method, template)] = path.stem.removeprefix("agent_routing_team_")
    return found


SAMPLES = samples()
ADMIN_ROUTES = sorted(route for route, role in TEAM_ROUTES.items() if role == ADMIN)


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture(scope="module")
def acme(routing: HttpHandlerClient) -> dict[str, Any]:
    """An organization with one of every team object."""
    org = Org(routing)
    org.agent("list_agents")
    dept = org.admin("create_department", json_body={"name": "Billing"}).json["id"]
    assert (
        org.admin(
            "update_agent", path_params={"user_id": org.agent_id}, json_body={"departments": [dept]}
        ).status
        == 200
    )
    label = org.admin("create_label", json_body={"name": "VIP"}).json["id"]
    canned = org.admin(
        "create_canned",
        json_body={"shortcut": "refund", "title": "Refund", "content": "We refund."},
    ).json["id"]
    return {
        "org": org,
        "department_id": dept,
        "label_id": label,
        "canned_id": canned,
        "user_id": org.agent_id,
    }


def path_params(template: str, objects: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(objects[name])
        for name in ("department_id", "label_id", "canned_id", "user_id")
        if "{" + name + "}" in template
    }


def test_every_team_route_has_a_sample_a_role_and_a_template_route() -> None:
    declared = {
        (r.method, r.path)
        for r in load_template(ROOT / "template.yaml").routes
        if r.function == "AgentRoutingFunction"
    }
    assert len(TEAM_ROUTES) == 18
    for route in TEAM_ROUTES:
        assert route in SAMPLES, f"no sample event for {route}"
        assert route in declared, f"{route} not declared in template.yaml"
        assert ("OPTIONS", route[1]) in declared, f"no preflight route for {route[1]}"
    for route in SAMPLES:
        assert route in TEAM_ROUTES, f"sample for {route} has no entry in ROUTE_ROLES"


def test_every_team_route_is_served_by_the_router(routing: HttpHandlerClient) -> None:
    from agent_routing_team import router  # type: ignore[import-not-found]

    served = {
        (method, route.path) for route in router.routes for method in getattr(route, "methods", ())
    }
    assert served == set(TEAM_ROUTES)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_agents_get_403_on_admin_routes(
    stack: Any, acme: dict[str, Any], route: tuple[str, str]
) -> None:
    org: Org = acme["org"]
    sample = SAMPLES[route]
    before = stored(stack, *keys.agent(org.workspace_id, org.agent_id))
    response = org.agent(
        sample, path_params=path_params(route[1], acme), json_body=VALID_BODIES.get(sample)
    )
    assert response.status == 403 and response.error_code == "forbidden", response.body
    # Nothing changed: the objects are all still there, the agent untouched.
    assert stored(stack, org.workspace_id, f"DEPT#{acme['department_id']}") is not None
    assert stored(stack, org.workspace_id, f"LABEL#{acme['label_id']}") is not None
    assert stored(stack, org.workspace_id, f"CANNED#{acme['canned_id']}") is not None
    assert stored(stack, *keys.agent(org.workspace_id, org.agent_id)) == before


OBJECT_ROUTES = sorted(route for route in TEAM_ROUTES if "{" in route[1])


@pytest.mark.parametrize("role", ["admin", "member"])
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_another_workspace_gets_404_for_every_acme_object(
    stack: Any,
    routing: HttpHandlerClient,
    acme: dict[str, Any],
    route: tuple[str, str],
    role: str,
) -> None:
    org: Org = acme["org"]
    globex = Org(routing, name="globex")
    _, token = globex.new_member(role)
    minimum = TEAM_ROUTES[route]
    sample = SAMPLES[route]
    before = {
        sk: stored(stack, org.workspace_id, sk)
        for sk in (
            f"DEPT#{acme['department_id']}",
            f"LABEL#{acme['label_id']}",
            f"CANNED#{acme['canned_id']}",
            f"AGENT#{org.agent_id}",
        )
    }
    response = globex.call(
        sample, token, path_params=path_params(route[1], acme), json_body=VALID_BODIES.get(sample)
    )
    expected = 403 if (minimum == ADMIN and role == "member") else 404
    assert response.status == expected, response.body
    after = {sk: stored(stack, org.workspace_id, sk) for sk in before}
    assert after == before
    # And nothing was created in globex's workspace under acme's ids.
    assert stored(stack, globex.workspace_id, f"DEPT#{acme['department_id']}") is None
    assert stored(stack, globex.workspace_id, f"AGENT#{org.agent_id}") is None


def test_acme_lists_are_invisible_to_globex(
    routing: HttpHandlerClient, acme: dict[str, Any]
) -> None:
    globex = Org(routing, name="globex")
    for sample in ("list_departments", "list_labels", "list_canned"):
        response = globex.admin(sample)
        assert response.status == 200 and response.json["items"] == [], sample
    agents = globex.agent("list_agents").json["items"]
    assert {a["user_id"] for a in agents} == {globex.admin_id, globex.agent_id}
    lookup = globex.agent("list_canned", query={"shortcut": "refund"})
    assert lookup.json["items"] == []


@pytest.mark.parametrize("route", sorted(TEAM_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_token_is_401(
    acme: dict[str, Any], routing: HttpHandlerClient, route: tuple[str, str]
) -> None:
    sample = SAMPLES[route]
    response = routing.call(
        f"agent_routing_team_{sample}",
        path_params=path_params(route[1], acme),
        headers={"authorization": None},
        json_body=VALID_BODIES.get(sample),
    )
    assert response.status == 401, response.body
