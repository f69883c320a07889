"""Isolation and roles on the conversation routes: another workspace's conversation is not
found (404) for its admins and agents alike, on every route; an agent is refused (403) on
every admin route the agent_routing function serves."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from tests.integration.dashboard_support import DASHBOARD_ORIGIN, Org, agent_routing_client
from tests.integration.routing_support import Team
from tests.integration.workspace_support import app_routes
from tests.support import HttpHandlerClient, LambdaContext, Response, load_function, sample_event
from yoosr.dashboard.access import ADMIN, ROUTE_ROLES

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/conversations/{conversation_id}/messages"): {"text": "hello"},
    ("POST", "/v1/conversations/{conversation_id}/assign"): {"department_id": None},
    ("POST", "/v1/conversations/{conversation_id}/labels"): {
        "add": ["label_01JZ0000000000000000000000"]
    },
}


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


def call(
    client: HttpHandlerClient,
    method: str,
    template: str,
    token: str,
    body: dict[str, Any] | None = None,
    **params: str,
) -> Response:
    """Any route, shaped as API Gateway would send it."""
    event = copy.deepcopy(sample_event("agent_routing_inbox_get_conversation"))
    path = template
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event["routeKey"] = f"{method} {template}"
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["pathParameters"] = params or None
    event["headers"]["authorization"] = f"Bearer {token}"
    event["headers"]["origin"] = DASHBOARD_ORIGIN
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    result = client.handler(event, LambdaContext())
    return Response(result["statusCode"], result.get("headers") or {}, result.get("body") or "")


def conversation_routes() -> list[tuple[str, str]]:
    return sorted(key for key in ROUTE_ROLES if key[1].startswith("/v1/conversations/{"))


def test_every_conversation_route_is_in_the_role_table_and_served(
    routing: HttpHandlerClient,
) -> None:
    served = {
        route
        for route in app_routes(load_function("agent_routing").app)
        if route[1].startswith("/v1/conversations")
    }
    listed = {key for key in ROUTE_ROLES if key[1].startswith("/v1/conversations")}
    # DELETE /v1/conversations/{id} (API.md, admin) belongs to the privacy work.
    assert served == listed - {("DELETE", "/v1/conversations/{conversation_id}")}


def test_another_workspace_gets_404_on_every_conversation_route(
    stack: Any, routing: HttpHandlerClient, widget: HttpHandlerClient
) -> None:
    # Given an acme conversation, handed off and assigned to an acme agent
    acme = Team(Org(routing, name="acme"), widget, stack)
    acme_sales = acme.department("Sales")
    acme.agent("ann", [acme_sales])
    visitor = acme.visitor()
    conversation_id = visitor.start_conversation("acme only")
    # And globex, with its own admin, agent and department
    globex = Team(Org(routing, name="globex"), widget, stack)
    globex_sales = globex.department("Sales")
    globex_agent = globex.agent("gina", [globex_sales])
    BODIES[("POST", "/v1/conversations/{conversation_id}/assign")] = {"department_id": globex_sales}

    for token in (globex.org.admin_token, globex_agent.token):
        for method, template in conversation_routes():
            if (method, template) not in {
                (m, p) for (m, p), role in ROUTE_ROLES.items() if role != ADMIN
            }:
                continue
            response = call(
                routing,
                method,
                template,
                token,
                BODIES.get((method, template)),
                conversation_id=conversation_id,
            )
            assert response.status == 404, (method, template, response.body)
            assert json.loads(response.body)["error"]["code"] == "not_found"
        listed = call(routing, "GET", "/v1/conversations", token)
        assert conversation_id not in listed.body

    # Nothing of acme's changed, and acme's own agent still reaches it
    own = call(
        routing,
        "GET",
        "/v1/conversations/{conversation_id}",
        acme.members["ann"].token,
        conversation_id=conversation_id,
    )
    assert own.status == 200 and json.loads(own.body)["labels"] == []
    assert json.loads(own.body)["message_count"] == 1


def test_agents_get_403_on_every_admin_route(
    stack: Any, routing: HttpHandlerClient, widget: HttpHandlerClient
) -> None:
    served = app_routes(load_function("agent_routing").app)
    team = Team(Org(routing), widget, stack)
    admin_routes = sorted(k for k, role in ROUTE_ROLES.items() if role == ADMIN and k in served)
    assert admin_routes, "the agent_routing function serves admin routes"
    params = {
        "department_id": "dept_01JZ0000000000000000000000",
        "user_id": team.org.agent_id,
        "label_id": "label_01JZ0000000000000000000000",
        "canned_id": "canned_01JZ0000000000000000000000",
        "conversation_id": "conv_01JZ0000000000000000000000",
    }
    for method, template in admin_routes:
        used = {k: v for k, v in params.items() if "{" + k + "}" in template}
        body = {} if method in ("POST", "PATCH", "PUT") else None
        response = call(routing, method, template, team.org.agent_token, body, **used)
        assert response.status == 403, (method, template, response.body)
