"""Support for the dashboard identity and workspace administration suites: the workspace
handler configured with the shared development issuer (tests.integration.dashboard_support),
the dashboard functions found in template.yaml, and requests built for any route."""

from __future__ import annotations

import copy
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from local.template import Route, load_template
from tests.integration.dashboard_support import (
    DASHBOARD_ORIGIN,
    configure_dashboard_env,
    dev_issuer,
)
from tests.support import ROOT, HttpHandlerClient, LambdaContext, Response, load_function
from yoosr import ids
from yoosr.provisioning import provision_workspace

# A well-formed id for every path parameter: objects named by it do not exist.
PATH_PARAMETER_VALUE = "01JDQ4ZV7W3X9Y8Z6A5B4C3D2E"
BASE_EVENT = "workspace_get"


@dataclass(frozen=True)
class DashboardFunction:
    logical_id: str
    folder: str
    routes: frozenset[tuple[str, str]]  # declared in template.yaml, OPTIONS included


def dashboard_functions() -> dict[str, DashboardFunction]:
    """Every function in template.yaml that verifies Clerk tokens (has YOOSR_CLERK_ISSUER)."""
    template = load_template(ROOT / "template.yaml")
    routes: dict[str, set[tuple[str, str]]] = {}
    for route in template.routes:
        routes.setdefault(route.function, set()).add((route.method, route.path))
    found = {}
    for logical_id, spec in template.functions.items():
        if "YOOSR_CLERK_ISSUER" in spec.environment:
            found[logical_id] = DashboardFunction(
                logical_id,
                Path(spec.code_uri).name,
                frozenset(routes.get(logical_id, set())),
            )
    return found


def template_routes() -> list[Route]:
    return load_template(ROOT / "template.yaml").routes


def load_dashboard_function(stack: Any, function: DashboardFunction) -> Any | None:
    """The function's app module, configured to trust the shared development issuer; None
    while its code is not there yet (no app.py, or a sibling module it imports is missing)."""
    folder = ROOT / "functions" / function.folder
    if not (folder / "app.py").exists():
        return None
    configure_dashboard_env(stack, function.logical_id)
    try:
        return load_function(function.folder)
    except ModuleNotFoundError as error:
        sys.modules.pop(f"yoosr_function_{function.folder}", None)
        if (error.name or "").startswith(f"{function.folder}_"):
            return None
        raise


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, full path template) of every API route, included routers' too."""
    return {
        (method, str(context.path))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def workspace_module(stack: Any) -> Any:
    """The workspace function (imported once per process, like a warm Lambda)."""
    module = load_dashboard_function(stack, dashboard_functions()["WorkspaceAdminFunction"])
    assert module is not None
    assert module.settings.clerk_pem_public_key == dev_issuer().public_pem, (
        "the workspace function trusts another issuer; mint tokens with dev_issuer()"
    )
    return module


def route_event(
    method: str,
    template: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    query: str = "",
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for any route, built on a sample from events/."""
    event = copy.deepcopy(json.loads((ROOT / "events" / f"{BASE_EVENT}.json").read_text()))
    path = template
    names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
    values = {name: (params or {}).get(name, PATH_PARAMETER_VALUE) for name in names}
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {template}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["rawQueryString"] = query
    if values:
        event["pathParameters"] = values
    merged = {k: v for k, v in event["headers"].items() if k != "authorization"}
    merged.update({k.lower(): v for k, v in (headers or {}).items()})
    if body is not None:
        event["body"] = json.dumps(body)
        merged["content-type"] = "application/json"
        merged["content-length"] = str(len(event["body"]))
    event["headers"] = merged
    return event


def invoke(handler: Any, event: dict[str, Any]) -> Response:
    result = handler(event, LambdaContext())
    return Response(
        result["statusCode"],
        {k.lower(): v for k, v in (result.get("headers") or {}).items()},
        result.get("body") or "",
    )


@dataclass
class Organization:
    """A Clerk organization whose workspace exists, with an admin and an agent (member)."""

    stack: Any
    org_id: str = field(default_factory=lambda: f"org_{uuid.uuid4().hex[:20]}")
    admin_id: str = field(default_factory=lambda: f"user_admin{uuid.uuid4().hex[:12]}")
    agent_id: str = field(default_factory=lambda: f"user_agent{uuid.uuid4().hex[:12]}")
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        provision_workspace(
            self.stack.table("WorkspacesTable"), self.org_id, "Acme", dict(self.settings)
        )

    @property
    def workspace_id(self) -> str:
        return ids.workspace_id_for_org(self.org_id)

    def token(self, role: str = "admin", **claims: Any) -> str:
        user = self.admin_id if role == "admin" else self.agent_id
        claims.setdefault("azp", DASHBOARD_ORIGIN)
        return dev_issuer().mint(self.org_id, user, role, **claims)

    @property
    def admin_token(self) -> str:
        return self.token("admin")

    @property
    def agent_token(self) -> str:
        return self.token("member")


class WorkspaceApi:
    """The workspace function's handler, called the way API Gateway would."""

    def __init__(self, handler: Any) -> None:
        self.client = HttpHandlerClient(handler)

    def call(
        self, sample: str, token: str | None, *, origin: str = DASHBOARD_ORIGIN, **kwargs: Any
    ) -> Response:
        headers: dict[str, str | None] = {
            "authorization": f"Bearer {token}" if token else None,
            "origin": origin,
            **kwargs.pop("headers", {}),
        }
        return self.client.call(f"workspace_{sample}", headers=headers, **kwargs)
