"""Who may call the bot admin API, tenancy, CORS and the function's IAM role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import load_template
from tests.integration.bot_admin_support import (
    DEMO_FLOW,
    KNOWLEDGE,
    BotOrg,
    Recorder,
    bot_client,
    config_item,
    flow_items,
    knowledge_items,
    record_dynamodb,
)
from tests.integration.dashboard_support import DASHBOARD_ORIGIN, dev_issuer
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.integration.workspace_support import app_routes
from tests.support import EVENTS, ROOT, HttpHandlerClient, load_function
from yoosr.dashboard.access import ADMIN, ROUTE_ROLES

BOT_ROUTES = {route: role for route, role in ROUTE_ROLES.items() if route[1].startswith("/v1/bot")}
VALID_BODIES: dict[str, Any] = {
    "create_flow": DEMO_FLOW,
    "replace_flow": DEMO_FLOW,
    "create_knowledge": KNOWLEDGE[0],
    "replace_knowledge": KNOWLEDGE[1],
    "preview": {"messages": [{"text": "hi"}]},
}


def samples() -> dict[tuple[str, str], str]:
    """(method, path template) → sample name, for every bot_reply sample in events/."""
    found = {}
    for path in EVENTS.glob("bot_reply_*.json"):
        event = json.loads(path.read_text())
        method, template = event["routeKey"].split(" ", 1)
        found[(method, template)] = path.stem.removeprefix("bot_reply_")
    return found


SAMPLES = samples()


@pytest.fixture(scope="module")
def client(stack: Any) -> HttpHandlerClient:
    return bot_client(stack)


@pytest.fixture
def recorded() -> Iterator[Recorder]:
    yield from record_dynamodb()


@pytest.fixture
def acme(stack: Any, client: HttpHandlerClient) -> dict[str, Any]:
    """A workspace with a flow (its greeting flow) and a knowledge entry."""
    org = BotOrg(client)
    flow = org.create_flow()
    entry = org.create_entry(KNOWLEDGE[0])
    return {"org": org, "flow_id": flow["id"], "entry_id": entry["id"]}


def path_params(template: str, acme: dict[str, Any]) -> dict[str, str]:
    names = {"flow_id": acme["flow_id"], "entry_id": acme["entry_id"]}
    return {name: value for name, value in names.items() if "{" + name + "}" in template}


def snapshot(stack: Any, ws: str) -> dict[str, Any]:
    return {
        "config": config_item(stack, ws),
        "flows": flow_items(stack, ws),
        "knowledge": knowledge_items(stack, ws),
    }


def test_every_bot_route_has_a_sample_a_role_and_a_template_route(
    client: HttpHandlerClient,
) -> None:
    template = load_template(ROOT / "template.yaml")
    declared = {(r.method, r.path) for r in template.routes if r.function == "BotReplyFunction"}
    served = app_routes(load_function("bot_reply").app)
    assert len(BOT_ROUTES) == 11
    assert set(BOT_ROUTES) == served
    assert set(BOT_ROUTES) <= declared
    assert set(BOT_ROUTES) <= set(SAMPLES)
    assert all(role == ADMIN for role in BOT_ROUTES.values())
    for _, path in BOT_ROUTES:
        assert ("OPTIONS", path) in declared, f"no preflight route for {path}"


@pytest.mark.parametrize("route", sorted(BOT_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_agents_get_403_and_change_nothing(
    stack: Any, acme: dict[str, Any], route: tuple[str, str]
) -> None:
    org: BotOrg = acme["org"]
    before = snapshot(stack, org.workspace_id)
    sample = SAMPLES[route]
    response = org.agent(
        sample, path_params=path_params(route[1], acme), json_body=VALID_BODIES.get(sample)
    )
    assert response.status == 403 and response.error_code == "forbidden", response.body
    assert snapshot(stack, org.workspace_id) == before


OBJECT_ROUTES = sorted(route for route in BOT_ROUTES if "{" in route[1])


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_another_workspace_gets_404_for_every_acme_object(
    stack: Any, client: HttpHandlerClient, acme: dict[str, Any], route: tuple[str, str]
) -> None:
    org: BotOrg = acme["org"]
    globex = BotOrg(client, name="globex")
    before = snapshot(stack, org.workspace_id)
    sample = SAMPLES[route]
    response = globex.admin(
        sample, path_params=path_params(route[1], acme), json_body=VALID_BODIES.get(sample)
    )
    assert response.status == 404 and response.error_code == "not_found", response.body
    assert snapshot(stack, org.workspace_id) == before
    # Nothing was created in globex's workspace under acme's ids either
    assert flow_items(stack, globex.workspace_id) == []
    assert knowledge_items(stack, globex.workspace_id) == []


def test_globex_sees_nothing_of_acme(client: HttpHandlerClient, acme: dict[str, Any]) -> None:
    globex = BotOrg(client, name="globex")
    for sample in ("list_flows", "list_knowledge"):
        response = globex.admin(sample)
        assert response.status == 200 and response.json["items"] == [], sample
    # Preview: acme's flow is unknown to globex, and globex has no greeting flow of its own
    named = globex.admin(
        "preview", json_body={"messages": [{"text": "hi"}], "flow_id": acme["flow_id"]}
    )
    assert named.status == 404
    greeting = globex.admin("preview", json_body={"messages": [{"text": "hi"}]})
    assert greeting.status == 409 and greeting.error_code == "no_greeting_flow"


def test_globex_preview_never_answers_from_acme_knowledge(
    client: HttpHandlerClient, acme: dict[str, Any]
) -> None:
    globex = BotOrg(client, name="globex")
    globex.create_flow()
    response = globex.admin(
        "preview", json_body={"messages": [{"text": "Hi"}, {"text": "Do you ship to Norway?"}]}
    )
    assert response.status == 200, response.body
    (action,) = response.json["turns"][1]["actions"]
    assert action["type"] == "handoff" and action["reason"] == "no_answer"
    # The same question in acme is answered from acme's entry
    answered = acme["org"].admin(
        "preview", json_body={"messages": [{"text": "Hi"}, {"text": "Do you ship to Norway?"}]}
    )
    assert answered.json["turns"][1]["actions"][0]["source"] == "knowledge"


@pytest.mark.parametrize("route", sorted(BOT_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_token_is_401(
    client: HttpHandlerClient, acme: dict[str, Any], route: tuple[str, str]
) -> None:
    sample = SAMPLES[route]
    response = client.call(
        f"bot_reply_{sample}",
        path_params=path_params(route[1], acme),
        headers={"authorization": None},
        json_body=VALID_BODIES.get(sample),
    )
    assert response.status == 401, response.body


def test_preflight_and_cors_headers(client: HttpHandlerClient, acme: dict[str, Any]) -> None:
    preflight = client.call("bot_reply_preflight")
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    org: BotOrg = acme["org"]
    listed = org.admin("list_flows")
    assert listed.status == 200 and listed.headers["vary"] == "Origin"


def test_malformed_and_non_json_bodies(acme: dict[str, Any]) -> None:
    org: BotOrg = acme["org"]
    malformed = org.admin(
        "create_flow", raw_body="{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status == 400 and malformed.error_code == "malformed_json"
    not_json = org.admin(
        "create_knowledge", raw_body="title=x", headers={"content-type": "text/plain"}
    )
    assert not_json.status == 415
    array = org.admin("create_flow", json_body=[DEMO_FLOW])
    assert array.status == 422
    missing = org.admin("preview", headers={"content-type": "application/json"})
    assert missing.status == 400 and missing.error_code == "missing_body"


def test_the_bot_reply_role_allows_every_call_the_function_makes(
    stack: Any, client: HttpHandlerClient, recorded: Recorder
) -> None:
    # A fresh organization: provisioned by the function's first call
    org = BotOrg(client)
    flow = org.create_flow()
    path = {"flow_id": flow["id"]}
    org.admin("list_flows")
    org.admin("get_flow", path_params=path)
    org.admin("replace_flow", path_params=path, json_body={**DEMO_FLOW, "version": 1})
    org.admin("replace_flow", path_params=path, json_body={**DEMO_FLOW, "version": 1})  # 409
    entry = {"entry_id": org.create_entry(KNOWLEDGE[0])["id"]}
    org.admin("list_knowledge", query={"limit": "1"})
    org.admin("get_knowledge", path_params=entry)
    org.admin("replace_knowledge", path_params=entry, json_body=KNOWLEDGE[1])
    org.admin("preview", json_body={"messages": [{"text": "Hi"}, {"text": "30 days refund?"}]})
    org.admin("preview", json_body={"messages": [{"text": "hi"}], "flow_id": flow["id"]})
    org.admin("delete_knowledge", path_params=entry)
    org.admin("delete_flow", path_params=path)
    org.admin("delete_flow", path_params=path)  # 404
    fresh = dev_issuer().mint("org_bot_fresh_" + org.org_id[4:], "user_bot_fresh")
    org.call("list_flows", fresh)

    statements = role_statements(stack, "BotReplyFunction")
    needed = {p for call in recorded.calls for p in required_permissions(stack, *call)}
    assert {action for action, _ in needed} >= {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert sorted(p for p in needed if not allowed(statements, *p)) == []
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any("*" in action for action in actions)
        assert "dynamodb:Scan" not in actions
        if statement.get("Sid") != "Tracing":  # X-Ray has no resource-level permissions
            assert statement["Resource"] != "*", statement
    # Only the Workspaces table: the function reaches no conversation or visitor data
    tables = {resource for _, resource in needed}
    assert tables == {str(stack.resources.get_att("WorkspacesTable", "Arn"))}
