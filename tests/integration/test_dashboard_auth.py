"""Dashboard identity on every authenticated route of every dashboard function.

The functions are found in template.yaml (those that verify Clerk tokens); a function whose
code is not there yet is skipped, and joins these tests as soon as its app imports. Tokens come
from the shared development issuer (tests.integration.dashboard_support).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.clerk import DevIssuer
from tests.integration.dashboard_support import (
    DASHBOARD_ORIGIN,
    ISSUER,
    dev_issuer,
    use_dev_verifier,
)
from tests.integration.workspace_support import (
    DashboardFunction,
    Organization,
    app_routes,
    dashboard_functions,
    invoke,
    load_dashboard_function,
    route_event,
    workspace_module,
)
from yoosr import ids
from yoosr.dashboard import access
from yoosr.dashboard.access import ADMIN, ROUTE_ROLES, authenticate
from yoosr.errors import Forbidden, Unauthorized
from yoosr.settings import DashboardSettings
from yoosr.store import ddb, keys

OTHER_ORIGIN = "https://evil.example"
BODY_METHODS = {"POST", "PUT", "PATCH"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture(scope="module")
def served(stack: Any) -> dict[str, tuple[DashboardFunction, Any]]:
    """logical id → (function, app module) for every dashboard function whose code exists."""
    workspace_module(stack)  # imported first, with the shared issuer
    found = {}
    for logical_id, function in dashboard_functions().items():
        module = load_dashboard_function(stack, function)
        if module is not None:
            found[logical_id] = (function, module)
    assert "WorkspaceAdminFunction" in found
    return found


@pytest.fixture(scope="module")
def routes(served: dict[str, tuple[DashboardFunction, Any]]) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) for every route in ROUTE_ROLES a function serves."""
    found = []
    for _, module in served.values():
        for method, path in sorted(app_routes(module.app)):
            if (method, path) in ROUTE_ROLES:
                found.append((method, path, module.lambda_handler))
    return found


@pytest.fixture(params=["jwks", "pem"])
def key_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Verify with the issuer's JWKS (kid lookup, refetch) or networklessly with its PEM,
    whatever the function's deployment parameters say."""
    use_dev_verifier(request.param, monkeypatch)
    yield request.param


@pytest.fixture(scope="module")
def org(stack: Any) -> Organization:
    """Its workspace lists one dashboard origin, so `azp` is enforced."""
    return Organization(stack, settings={"allowed_dashboard_origins": [DASHBOARD_ORIGIN]})


def bad_tokens(org: Organization, key_mode: str) -> dict[str, str]:
    """Tokens with one flaw each, all otherwise an admin's of `org`."""
    issuer = dev_issuer()
    stranger = DevIssuer.generate("https://clerk.stranger.example", kid=issuer.kid)
    now = int(time.time())
    claims = issuer.claims(org.org_id, org.admin_id, "admin", azp=DASHBOARD_ORIGIN)
    good = issuer.sign(claims)
    header, payload, signature = good.split(".")
    altered = {**claims, "sub": org.agent_id}
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": issuer.kid}).encode())
    hs_signature = hmac.new(
        issuer.public_pem.encode(), f"{hs_header}.{payload}".encode(), hashlib.sha256
    ).digest()
    tokens = {
        "expired": issuer.sign({**claims, "exp": now - 60}),
        "nbf_in_future": issuer.sign({**claims, "nbf": now + 60}),
        "wrong_iss": issuer.sign({**claims, "iss": "https://clerk.evil.example"}),
        "azp_not_allowed": issuer.sign({**claims, "azp": OTHER_ORIGIN}),
        "alg_none": f"{none_header}.{payload}.",
        "hs256_with_public_key": f"{hs_header}.{payload}.{_b64(hs_signature)}",
        "tampered_payload": f"{header}.{_b64(json.dumps(altered).encode())}.{signature}",
        "missing_sub": issuer.sign({k: v for k, v in claims.items() if k != "sub"}),
        "missing_sid": issuer.sign({k: v for k, v in claims.items() if k != "sid"}),
        "another_issuers_valid_token": stranger.mint(
            org.org_id, org.admin_id, "admin", azp=DASHBOARD_ORIGIN
        ),
        "pending_session": issuer.sign({**claims, "sts": "pending"}),
        "garbage": "abc.def.ghi",
    }
    if key_mode == "jwks":  # a PEM has one key: like Clerk's networkless check, no kid lookup
        tokens["unknown_kid"] = issuer.sign(claims, kid="ins_unknown")
    return tokens


def call(handler: Any, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
    headers = {"origin": DASHBOARD_ORIGIN}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = {} if method in BODY_METHODS else None
    return invoke(handler, route_event(method, path, headers=headers, body=body, **kwargs))


def test_the_workspace_and_agent_routing_functions_are_found(stack: Any) -> None:
    functions = dashboard_functions()
    assert {"WorkspaceAdminFunction", "AgentRoutingFunction"} <= set(functions)
    assert ("GET", "/v1/workspace") in functions["WorkspaceAdminFunction"].routes


def test_every_flawed_token_gets_401_on_every_authenticated_route(
    routes: list[tuple[str, str, Any]], org: Organization, key_mode: str
) -> None:
    assert len(routes) >= 7  # the workspace function's own routes at least
    tokens = bad_tokens(org, key_mode)
    for method, path, handler in routes:
        # Given a token that is fine: the route answers something other than 401/403
        control = call(handler, method, path, org.admin_token)
        assert control.status not in (401, 403), (method, path, control.body)
        if (method, path) == ("POST", "/v1/workspace/deletion"):
            # The control scheduled the shared workspace's deletion: cancel it at once.
            assert call(handler, "DELETE", path, org.admin_token).status == 200
        # Then every flawed one is refused as unauthenticated
        for name, token in tokens.items():
            response = call(handler, method, path, token)
            assert response.status == 401, (method, path, name, response.body)
            assert response.error_code == "invalid_token", (method, path, name)
        for header in (None, "Basic abc", "Bearer "):
            event = route_event(method, path, headers={"authorization": header} if header else {})
            response = invoke(handler, event)
            assert response.status == 401, (method, path, header)
            assert response.error_code == "missing_token"


def test_a_token_without_organization_gets_403_on_every_route(
    routes: list[tuple[str, str, Any]], org: Organization
) -> None:
    token = dev_issuer().mint(None, org.admin_id, azp=DASHBOARD_ORIGIN)
    for method, path, handler in routes:
        response = call(handler, method, path, token)
        assert response.status == 403, (method, path, response.body)
        assert response.error_code == "no_organization"


def test_an_agent_gets_403_on_every_admin_route(
    routes: list[tuple[str, str, Any]], org: Organization
) -> None:
    admin_routes = [r for r in routes if ROUTE_ROLES[(r[0], r[1])] == ADMIN]
    assert admin_routes
    for method, path, handler in admin_routes:
        response = call(handler, method, path, org.agent_token)
        assert response.status == 403, (method, path, response.body)
        assert response.error_code == "forbidden"


def test_roles_other_than_admin_and_member_get_403(
    routes: list[tuple[str, str, Any]], org: Organization
) -> None:
    token = dev_issuer().mint(org.org_id, org.admin_id, "billing", azp=DASHBOARD_ORIGIN)
    for method, path, handler in routes:
        response = call(handler, method, path, token)
        assert response.status == 403, (method, path)
        assert response.error_code == "role_not_allowed"


def test_v1_claims_work_like_v2(stack: Any, org: Organization) -> None:
    handler = workspace_module(stack).lambda_handler
    admin = dev_issuer().mint(org.org_id, org.admin_id, "admin", version=1, azp=DASHBOARD_ORIGIN)
    member = dev_issuer().mint(org.org_id, org.agent_id, "member", version=1, azp=DASHBOARD_ORIGIN)
    assert call(handler, "GET", "/v1/workspace", admin).status == 200
    assert call(handler, "GET", "/v1/workspace", member).status == 403


# ---------------------------------------------------------------- the route table


def test_every_served_dashboard_route_is_in_the_role_table_and_the_template(
    served: dict[str, tuple[DashboardFunction, Any]],
) -> None:
    for function, module in served.values():
        served_routes = app_routes(module.app)
        assert served_routes, function.logical_id
        declared = {route for route in function.routes if route[0] != "OPTIONS"}
        for route in served_routes:
            assert route in ROUTE_ROLES, f"{function.logical_id} serves {route}: not in ROUTE_ROLES"
            assert route in declared, f"{function.logical_id} serves {route}: not in template"
            # One route key, one integration: a path two functions share (GET and DELETE
            # /v1/conversations/{id}) has its preflight in one of them.
            assert any(("OPTIONS", route[1]) in f.routes for f in dashboard_functions().values()), (
                f"no preflight route for {route[1]}"
            )
        assert declared <= served_routes, f"{function.logical_id} declares routes it lacks"


def _resource(path: str) -> str:
    return "/".join(path.split("/")[:3])  # /v1/<resource>


def test_every_route_in_the_role_table_is_served_by_its_function(
    served: dict[str, tuple[DashboardFunction, Any]],
) -> None:
    """A row declared in template.yaml must be served by the function declaring it (unless
    that function's code is not there yet). A row no function declares fails while a served
    dashboard function owns its resource (/v1/<resource>): it is a route nobody serves; a row
    of a resource no served function owns belongs to a function still to come."""
    functions = dashboard_functions()
    checked = 0
    for method, path in ROUTE_ROLES:
        declarers = [f for f in functions.values() if (method, path) in f.routes]
        for function in declarers:
            if function.logical_id in served:
                module = served[function.logical_id][1]
                assert (method, path) in app_routes(module.app), (
                    f"{function.logical_id} declares {method} {path} but does not serve it"
                )
                checked += 1
        if not declarers:
            owners = [
                logical_id
                for logical_id, (function, _) in served.items()
                if any(_resource(p) == _resource(path) for _, p in function.routes)
            ]
            assert not owners, (
                f"ROUTE_ROLES lists {method} {path}, which no function serves "
                f"(declare it in template.yaml for one of {owners})"
            )
    assert checked >= 7


def test_a_route_missing_from_the_table_is_denied_to_everyone(
    stack: Any, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = workspace_module(stack).lambda_handler
    monkeypatch.delitem(ROUTE_ROLES, ("GET", "/v1/workspace"))
    response = call(handler, "GET", "/v1/workspace", org.admin_token)
    assert response.status == 403
    assert response.error_code == "forbidden"


# ---------------------------------------------------------------- provisioning and azp


def test_the_first_call_of_an_organization_provisions_its_workspace_once(stack: Any) -> None:
    # Given an organization Yoosr has never seen
    table = stack.table("WorkspacesTable")
    org_id = f"org_new{time.time_ns()}"
    workspace_id = ids.workspace_id_for_org(org_id)
    assert ddb.get(table, *keys.workspace(workspace_id)) is None
    handler = workspace_module(stack).lambda_handler
    # When its admin calls for the first time
    first = call(handler, "GET", "/v1/workspace", dev_issuer().mint(org_id, "user_first"))
    # Then the workspace exists, named after the organization, with the caller as admin
    assert first.status == 200, first.body
    assert first.json["id"] == workspace_id
    assert first.json["org_id"] == org_id
    stored = ddb.get(table, *keys.workspace(workspace_id))
    assert stored is not None
    assert (stored["org_id"], stored["status"], stored["name"]) == (
        org_id,
        "active",
        org_id.removeprefix("org_"),
    )
    agent = ddb.get(table, *keys.agent(workspace_id, "user_first"))
    assert agent is not None
    assert agent["role"] == "admin"
    # And later calls (another member too) neither recreate nor change it
    member = dev_issuer().mint(org_id, "user_second", "member")
    assert call(handler, "GET", "/v1/workspace", member).status == 403
    assert (
        call(handler, "GET", "/v1/workspace", dev_issuer().mint(org_id, "user_first")).status == 200
    )
    again = ddb.get(table, *keys.workspace(workspace_id))
    assert again == stored
    second = ddb.get(table, *keys.agent(workspace_id, "user_second"))
    assert second is not None
    assert second["role"] == "agent"


def test_a_refused_token_provisions_nothing(stack: Any) -> None:
    table = stack.table("WorkspacesTable")
    org_id = f"org_refused{time.time_ns()}"
    handler = workspace_module(stack).lambda_handler
    expired = dev_issuer().mint(org_id, "user_x", exp=int(time.time()) - 60)
    assert call(handler, "GET", "/v1/workspace", expired).status == 401
    custom_role = dev_issuer().mint(org_id, "user_x", "billing")
    assert call(handler, "GET", "/v1/workspace", custom_role).status == 403
    assert ddb.get(table, *keys.workspace(ids.workspace_id_for_org(org_id))) is None


def test_a_role_change_in_clerk_is_applied_on_the_next_call(stack: Any, org: Organization) -> None:
    handler = workspace_module(stack).lambda_handler
    table = stack.table("WorkspacesTable")
    user = f"user_promoted{time.time_ns()}"
    member = dev_issuer().mint(org.org_id, user, "member", azp=DASHBOARD_ORIGIN)
    assert call(handler, "GET", "/v1/workspace", member).status == 403
    admin = dev_issuer().mint(org.org_id, user, "admin", azp=DASHBOARD_ORIGIN)
    assert call(handler, "GET", "/v1/workspace", admin).status == 200
    stored = ddb.get(table, *keys.agent(org.workspace_id, user))
    assert stored is not None
    assert stored["role"] == "admin"


def _settings(stack: Any, parties: str) -> DashboardSettings:
    return DashboardSettings(
        workspaces_table=stack.table("WorkspacesTable"),
        clerk_issuer=ISSUER,
        clerk_pem_public_key=dev_issuer().public_pem,
        clerk_authorized_parties=parties,
    )


def test_azp_must_be_a_deployment_or_workspace_dashboard_origin(stack: Any) -> None:
    # Given a deployment that allows one dashboard origin, and a workspace adding its own
    settings = _settings(stack, "https://app.yoosr.example, https://staging.yoosr.example")
    org = Organization(
        stack, settings={"allowed_dashboard_origins": ["https://support.acme.example"]}
    )

    def caller_for(**claims: Any) -> access.DashboardCaller:
        token = dev_issuer().mint(org.org_id, org.admin_id, "admin", **claims)
        return authenticate(settings, f"Bearer {token}", "GET", "/v1/workspace")

    # Then either list's origins pass
    for origin in (
        "https://app.yoosr.example",
        "https://staging.yoosr.example",
        "https://support.acme.example",
    ):
        assert caller_for(azp=origin).workspace_id == org.workspace_id
    # And any other origin, or none, is a 401
    for azp in (OTHER_ORIGIN, "https://app.yoosr.example.evil.example", None):
        with pytest.raises(Unauthorized) as refused:
            caller_for(azp=azp)
        assert refused.value.details == [{"reason": "azp not allowed"}]
    # And without an organization, a bad azp is still a 401, a good one a 403
    with pytest.raises(Unauthorized):
        authenticate(
            settings,
            f"Bearer {dev_issuer().mint(None, 'u', azp=OTHER_ORIGIN)}",
            "GET",
            "/v1/workspace",
        )
    with pytest.raises(Forbidden):
        authenticate(
            settings,
            f"Bearer {dev_issuer().mint(None, 'u', azp='https://app.yoosr.example')}",
            "GET",
            "/v1/workspace",
        )


def test_a_new_organization_is_not_provisioned_for_a_disallowed_azp(stack: Any) -> None:
    settings = _settings(stack, "https://app.yoosr.example")
    org_id = f"org_azp{time.time_ns()}"
    token = dev_issuer().mint(org_id, "user_x", azp=OTHER_ORIGIN)
    with pytest.raises(Unauthorized):
        authenticate(settings, f"Bearer {token}", "GET", "/v1/workspace")
    table = stack.table("WorkspacesTable")
    assert ddb.get(table, *keys.workspace(ids.workspace_id_for_org(org_id))) is None


def test_an_inactive_workspace_is_refused(stack: Any) -> None:
    org = Organization(stack)
    table = stack.table("WorkspacesTable")
    ddb.update(
        table,
        *keys.workspace(org.workspace_id),
        "SET #s = :s",
        names={"#s": "status"},
        vals=ddb.values(s="deleted"),
    )
    handler = workspace_module(stack).lambda_handler
    response = call(handler, "GET", "/v1/workspace", org.admin_token)
    assert response.status == 403
    assert response.error_code == "workspace_disabled"


def test_routes_of_a_prefixed_router_are_keyed_by_their_full_path(
    stack: Any, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import APIRouter, Depends

    from yoosr.dashboard.http import caller_dependency
    from yoosr.http import create_app, lambda_handler_for

    module = workspace_module(stack)
    router = APIRouter()

    @router.get(
        "/probe/{thing_id}",
        dependencies=[Depends(caller_dependency(lambda: module.settings))],
    )
    def probe() -> dict[str, str]:
        return {"probe": "ok"}

    app = create_app("probe", "probe", 1024)
    app.include_router(router, prefix="/v1/workspace")
    handler = lambda_handler_for(app)
    template = "/v1/workspace/probe/{thing_id}"
    assert call(handler, "GET", template, org.admin_token).status == 403  # not in the table
    monkeypatch.setitem(ROUTE_ROLES, ("GET", template), ADMIN)
    allowed = call(handler, "GET", template, org.admin_token)
    assert allowed.status == 200, allowed.body
    assert allowed.json == {"probe": "ok"}
