"""Who may do what with privacy requests: every privacy route is in the role table as admin
only (agents 403: they never create, decide or download); another workspace's request is a 404
on every route, for its admins and its visitors alike; another visitor's request is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.integration.workspace_support import app_routes
from tests.support import HttpHandlerClient, LambdaContext, sample_event
from yoosr.dashboard.access import ADMIN, ROUTE_ROLES

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/privacy/requests"): {"type": "export", "subject": {"email": "a@b.example"}},
    ("POST", "/v1/privacy/requests/{request_id}/deny"): {"reason": "other"},
    ("POST", "/v1/privacy/requests/{request_id}/extend"): {"days": 5, "reason": "complexity"},
}


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


def privacy_routes(apps: ps.Apps) -> list[tuple[str, str]]:
    return sorted(app_routes(apps.dashboard.app))


def test_every_privacy_route_is_admin_only(apps: ps.Apps) -> None:
    routes = privacy_routes(apps)
    assert len(routes) == 12
    assert all(ROUTE_ROLES[route] == ADMIN for route in routes)


def test_agents_get_403_on_every_privacy_route(stack: Any, apps: ps.Apps) -> None:
    org = ps.Org(stack, apps)
    request_id = org.create({"type": "export", "subject": {"email": "x@y.example"}}).json["id"]
    for method, template in privacy_routes(apps):
        response = org.call(
            method,
            template,
            role="agent",
            body=BODIES.get((method, template), {} if method == "POST" else None),
            request_id=request_id,
            conversation_id="conv_01JZ0000000000000000000000",
        )
        assert (response.status, response.error_code) == (403, "forbidden"), (method, template)
    # and nothing moved
    assert org.get(request_id).json["audit"][-1]["action"] == "submit"


def test_another_workspace_gets_404_on_every_request_route(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient
) -> None:
    acme = ps.Org(stack, apps)
    globex = ps.Org(stack, apps)
    visitor = ps.visitor(stack, apps, widget, acme)
    request_id = visitor.ask({"type": "delete", "email": "acme-only@example.com"}).json["id"]
    for method, template in privacy_routes(apps):
        if "{request_id}" not in template:
            continue
        response = globex.call(
            method, template, body=BODIES.get((method, template), {} if method == "POST" else None),
            request_id=request_id,
        )  # fmt: skip
        assert (response.status, response.error_code) == (404, "not_found"), (method, template)
    assert request_id not in globex.call("GET", "/v1/privacy/requests").body
    # A visitor of another workspace, or another visitor of the same one, does not see it
    stranger = ps.visitor(stack, apps, widget, globex)
    neighbour = ps.visitor(stack, apps, widget, acme)
    for other in (stranger, neighbour):
        assert other.status(request_id).status == 404
        assert other.verify(request_id, "123456").status == 404
        assert other.download(request_id).status == 404
    # acme's admin sees it, unchanged
    detail = acme.get(request_id).json
    assert detail["status"] == "awaiting_verification" and len(detail["audit"]) == 1


def test_the_widget_routes_need_a_session_and_an_allowed_origin(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient
) -> None:
    org = ps.Org(stack, apps)
    v = ps.visitor(stack, apps, widget, org)
    no_session = v.privacy_call(
        "privacy_widget_create_request",
        json_body={"type": "export"},
        headers={"authorization": None},
    )
    assert no_session.status == 401
    evil = v.privacy_call(
        "privacy_widget_create_request",
        json_body={"type": "export"},
        headers={"origin": "https://evil.example"},
    )
    assert (evil.status, evil.error_code) == (403, "origin_not_allowed")
    bad_type = v.ask({"type": "workspace_deletion"})
    assert bad_type.status == 422
    # A preflight (no credentials) is answered by the function for any well-formed origin
    event = sample_event("privacy_widget_create_request")
    event["requestContext"]["http"]["method"] = "OPTIONS"
    event["routeKey"] = "OPTIONS /v1/widget/privacy-requests"
    event["headers"] = {
        "origin": "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-yoosr-widget-key",
    }
    event.pop("body", None)
    preflight = apps.widget.lambda_handler(event, LambdaContext())
    assert preflight["statusCode"] == 204
    assert "POST" in preflight["headers"]["access-control-allow-methods"]
