"""Shared set-up of the isolation matrix and forged-credential suites (issue 8, suites 1 and 2).

One moto stack per test module with resources created from template.yaml, every HTTP function
of the route table imported with its template environment (dashboard functions trusting the
shared development Clerk issuer), and two workspaces (tenants) built the same way: an admin, an
agent, two widget visitors (A and B) and one object of every kind a path parameter can name
(conversation, department, label, canned response, bot flow, knowledge entry, widget key,
privacy request, agent), each holding the tenant's canary string where it holds text.

Fixtures are defined here and imported explicitly by the test modules (tests/quality/conftest.py
belongs to the suites' lead).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import json
import os
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from local import moto_fixes
from local.resources import create_resources, function_environment
from tests.integration import privacy_support
from tests.integration.dashboard_support import DASHBOARD_ORIGIN, ISSUER, dev_issuer
from tests.integration.widget_support import ORIGIN
from tests.quality.routes import RouteCase, all_routes, samples, template
from tests.support import FAKE_AWS_ENV, ROOT, LambdaContext, Response, load_function
from yoosr import ids
from yoosr.provisioning import issue_widget_key, provision_workspace

os.environ.update(FAKE_AWS_ENV)

BASE_EVENT = ROOT / "events" / "workspace_get.json"
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}$")
_counter = itertools.count(1)


def unique(prefix: str = "q") -> str:
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    resources: Any
    handlers: dict[str, Any]  # functions/<folder> → lambda_handler

    def table(self, logical_id: str) -> str:
        return str(self.resources.ref(logical_id))


def _load_handlers(stack: Stack) -> None:
    """Import every route's function with its template environment, the way
    tests.integration does (dashboard functions trust the shared development issuer by PEM)."""
    parsed = template()
    boto3.client("ses").verify_domain_identity(Domain=privacy_support.EMAIL_IDENTITY)
    for function, folder in sorted({(c.function, c.folder) for c in all_routes()}):
        if not (ROOT / "functions" / folder / "app.py").exists():
            continue
        env = function_environment(parsed, function, stack.resources)
        env.pop("POWERTOOLS_SERVICE_NAME", None)
        if "YOOSR_CLERK_ISSUER" in env:  # as tests.integration.dashboard_support configures
            env.update(
                YOOSR_CLERK_ISSUER=ISSUER,
                YOOSR_CLERK_PEM_PUBLIC_KEY=dev_issuer().public_pem,
                YOOSR_CLERK_JWKS_URL="",
                YOOSR_CLERK_AUTHORIZED_PARTIES="",
            )
        os.environ.update(env)
        module = load_function(folder)
        settings = getattr(module, "settings", None)
        pem = getattr(settings, "clerk_pem_public_key", None) if settings is not None else None
        assert pem in (None, "", dev_issuer().public_pem), (
            f"{folder} trusts another issuer; mint tokens with dev_issuer()"
        )
        stack.handlers[folder] = module.lambda_handler


@contextlib.contextmanager
def quality_stack() -> Iterator[Stack]:
    """moto with the template's resources and every route's handler (nested safely inside
    another suite's moto: resources that exist are kept)."""
    moto_fixes.apply()
    with mock_aws():
        resources = create_resources(template(), boto3.Session())
        stack = Stack(resources, {})
        _load_handlers(stack)
        yield stack


# ---------------------------------------------------------------- requests


@cache
def _base_event() -> dict[str, Any]:
    return json.loads(BASE_EVENT.read_text())


def random_ip() -> str:
    # A fresh documentation-range-like address per call keeps per-IP rate limits out of the way.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def build_event(
    method: str,
    template: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for any route, the way API Gateway sends it."""
    event = copy.deepcopy(_base_event())
    path = template
    values = dict(params or {})
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {template}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["sourceIp"] = random_ip()
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["rawQueryString"] = urlencode(query or {})
    if query:
        event["queryStringParameters"] = dict(query)
    if values:
        event["pathParameters"] = values
    merged = {k: v for k, v in event["headers"].items() if k not in ("authorization", "origin")}
    merged.update({k.lower(): v for k, v in (headers or {}).items()})
    if body is not None:
        raw_body = json.dumps(body)
        merged["content-type"] = "application/json"
    if raw_body is not None:
        event["body"] = raw_body
        merged["content-length"] = str(len(raw_body))
    event["headers"] = merged
    return event


def invoke(handler: Any, event: dict[str, Any]) -> Response:
    result = handler(event, LambdaContext())
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode("utf-8", "replace")
    return Response(
        result["statusCode"],
        {k.lower(): v for k, v in (result.get("headers") or {}).items()},
        body,
    )


# ---------------------------------------------------------------- tenants and personas


def random_like(object_id: str) -> str:
    """A well-formed id of the same shape that names nothing."""
    match = ULID.search(object_id)
    if match:
        return object_id[: match.start()] + ids.ulid()
    head = object_id.rstrip("0123456789abcdef")
    return head + uuid.uuid4().hex[: max(8, len(object_id) - len(head))]


@dataclass
class Visitor:
    key: str
    token: str
    visitor_id: str
    objects: dict[str, str] = field(default_factory=dict)  # kind → id (widget-side objects)

    def headers(self) -> dict[str, str]:
        return {
            "x-yoosr-widget-key": self.key,
            "origin": ORIGIN,
            "authorization": f"Bearer {self.token}",
        }


@dataclass
class Tenant:
    """A workspace of its own Clerk organization, with everything the matrix needs."""

    stack: Stack
    label: str
    org_id: str = field(default_factory=lambda: f"org_{uuid.uuid4().hex[:20]}")
    admin_id: str = field(default_factory=lambda: f"user_admin{uuid.uuid4().hex[:12]}")
    agent_id: str = field(default_factory=lambda: f"user_agent{uuid.uuid4().hex[:12]}")
    canary: str = field(default_factory=lambda: f"CANARY{uuid.uuid4().hex[:16].upper()}")
    widget_key: str = ""
    objects: dict[str, str] = field(default_factory=dict)  # kind → id (dashboard-side objects)
    visitors: dict[str, Visitor] = field(default_factory=dict)  # "a", "b"
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ws(self) -> str:
        return ids.workspace_id_for_org(self.org_id)

    def token(self, role: str = "admin", user_id: str | None = None, **claims: Any) -> str:
        user = user_id or (self.admin_id if role == "admin" else self.agent_id)
        claims.setdefault("azp", DASHBOARD_ORIGIN)
        return dev_issuer().mint(self.org_id, user, role, **claims)

    def session_token(self, role: str) -> str:
        """The admin's or the agent's token, minted once (valid for an hour: signing every
        call would cost more than many of the calls themselves)."""
        if role not in self._tokens:
            self._tokens[role] = self.token(role)
        return self._tokens[role]

    def dashboard_headers(self, role: str = "admin") -> dict[str, str]:
        return {"authorization": f"Bearer {self.session_token(role)}", "origin": DASHBOARD_ORIGIN}

    # -- calls made by the set-up (asserted: the set-up must work for the matrix to mean much)

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Response:
        case = route(method, path)
        event = build_event(method, path, params=params, headers=headers, body=body, query=query)
        return invoke(self.stack.handlers[case.folder], event)

    def admin(self, method: str, path: str, expect: int | tuple[int, ...], **kw: Any) -> Any:
        response = self.call(method, path, headers=self.dashboard_headers("admin"), **kw)
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert response.status in allowed, (method, path, response.status, response.body)
        return response.json if response.body else None

    def as_visitor(
        self, visitor: Visitor, method: str, path: str, expect: int | tuple[int, ...], **kw: Any
    ) -> Any:
        response = self.call(method, path, headers=visitor.headers(), **kw)
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert response.status in allowed, (method, path, response.status, response.body)
        return response.json if response.body else None

    # -- the set-up

    def provision(self) -> None:
        table = self.stack.table("WorkspacesTable")
        provision_workspace(
            table,
            self.org_id,
            f"Acme {self.canary}",
            {
                "allowed_origins": [ORIGIN],
                "allowed_dashboard_origins": [DASHBOARD_ORIGIN],
                "identity_secret": f"secret-{self.canary}",
            },
        )
        self.widget_key = issue_widget_key(table, self.ws)
        # The admin and the agent exist once they have called (Clerk provisions on first use).
        self.admin("GET", "/v1/workspace", 200)
        agent = self.call("GET", "/v1/agents", headers=self.dashboard_headers("member"))
        assert agent.status == 200, agent.body
        for name in ("a", "b"):
            self.visitors[name] = self.new_visitor()

    def new_visitor(self) -> Visitor:
        response = self.call(
            "POST",
            "/v1/widget/sessions",
            headers={"x-yoosr-widget-key": self.widget_key, "origin": ORIGIN},
            body={"page_url": f"https://shop.example/{self.canary}"},
        )
        assert response.status == 201, response.body
        visitor = Visitor(
            self.widget_key, response.json["session_token"], response.json["visitor_id"]
        )
        self.as_visitor(
            visitor,
            "PATCH",
            "/v1/widget/visitor",
            200,
            body={"name": f"Visitor {self.canary}", "email": f"{unique('v')}@example.com"},
        )
        return visitor

    def build_objects(self) -> None:
        """One shared object of every kind, read (never changed) by the matrix."""
        for kind in OBJECT_KINDS:
            self.objects[kind] = self.fresh(kind, None)
        for visitor in self.visitors.values():
            visitor.objects["conversation"] = self.fresh("conversation", visitor)
            visitor.objects["privacy_request"] = self.fresh("privacy_request", visitor)

    def fresh(self, kind: str, visitor: Visitor | None) -> str:
        """A new object of `kind` in this workspace (a visitor's own when `visitor` is given)."""
        return FACTORIES[kind](self, visitor)


# ---------------------------------------------------------------- object factories


def _conversation(tenant: Tenant, visitor: Visitor | None) -> str:
    owner = visitor or tenant.visitors["a"]
    started = tenant.as_visitor(
        owner,
        "POST",
        "/v1/widget/conversations",
        201,
        body={
            "client_conversation_id": unique("c"),
            "message": {"client_message_id": unique("m"), "text": f"Hello {tenant.canary}"},
        },
    )
    return str(started["id"])


def _department(tenant: Tenant, _: Visitor | None) -> str:
    body = {"name": f"Dept {tenant.canary} {unique()}"}
    return str(tenant.admin("POST", "/v1/departments", 201, body=body)["id"])


def _label(tenant: Tenant, _: Visitor | None) -> str:
    body = {"name": f"L{tenant.canary[:20]}{unique()}"[:50]}
    return str(tenant.admin("POST", "/v1/labels", 201, body=body)["id"])


def _canned(tenant: Tenant, _: Visitor | None) -> str:
    body = {
        "shortcut": unique("s")[:32],
        "title": f"Canned {tenant.canary}",
        "content": f"Canned content {tenant.canary}",
    }
    return str(tenant.admin("POST", "/v1/canned-responses", 201, body=body)["id"])


def flow_body(tenant: Tenant) -> dict[str, Any]:
    body, _ = samples()["POST /v1/bot/flows"]
    flow = copy.deepcopy(body)
    flow["name"] = f"Flow {tenant.canary} {unique()}"[:100]
    flow["active"] = False
    return dict(flow)


def _flow(tenant: Tenant, _: Visitor | None) -> str:
    return str(tenant.admin("POST", "/v1/bot/flows", 201, body=flow_body(tenant))["id"])


def knowledge_body(tenant: Tenant) -> dict[str, Any]:
    return {
        "title": f"Entry {tenant.canary}",
        "content": f"Knowledge {tenant.canary} {unique()}",
        "tags": ["quality"],
    }


def _knowledge(tenant: Tenant, _: Visitor | None) -> str:
    return str(tenant.admin("POST", "/v1/bot/knowledge", 201, body=knowledge_body(tenant))["id"])


def _widget_key(tenant: Tenant, _: Visitor | None) -> str:
    body = {"label": f"Key {tenant.canary}"}
    return str(tenant.admin("POST", "/v1/workspace/widget-keys", 201, body=body)["id"])


def _privacy_request(tenant: Tenant, visitor: Visitor | None) -> str:
    if visitor is not None:
        body = {"type": "export", "client_request_id": unique("r")}
        made = tenant.as_visitor(visitor, "POST", "/v1/widget/privacy-requests", 201, body=body)
    else:
        body = {"type": "export", "subject": {"email": f"{unique('p')}@example.com"}}
        made = tenant.admin("POST", "/v1/privacy/requests", 201, body=body)
    return str(made["id"])


def _agent(tenant: Tenant, _: Visitor | None) -> str:
    user_id = f"user_member{uuid.uuid4().hex[:12]}"
    headers = {
        "authorization": f"Bearer {tenant.token('member', user_id)}",
        "origin": DASHBOARD_ORIGIN,
    }
    response = tenant.call("GET", "/v1/agents", headers=headers)
    assert response.status == 200, response.body
    return user_id


FACTORIES: dict[str, Callable[[Tenant, Visitor | None], str]] = {
    "conversation": _conversation,
    "department": _department,
    "label": _label,
    "canned": _canned,
    "flow": _flow,
    "knowledge": _knowledge,
    "widget_key": _widget_key,
    "privacy_request": _privacy_request,
    "agent": _agent,
}
OBJECT_KINDS = tuple(FACTORIES)
last_code = privacy_support.last_code
frozen_clock = privacy_support.frozen_clock


# -- objects in the state a route needs (own cells of state-changing routes)


def awaiting_code(tenant: Tenant, visitor: Visitor, kind: str = "delete") -> tuple[str, str]:
    """A visitor's email-linked request waiting for its code: (request id, email)."""
    email = f"{unique('subject')}@example.com"
    body = {"type": kind, "email": email, "client_request_id": unique("r")}
    made = tenant.as_visitor(visitor, "POST", "/v1/widget/privacy-requests", 201, body=body)
    return str(made["id"]), email


def awaiting_approval(tenant: Tenant) -> str:
    """An email-verified erasure asked for from the widget: it waits for an admin."""
    visitor = tenant.visitors["a"]
    request_id, email = awaiting_code(tenant, visitor)
    body = {"code": privacy_support.last_code(email)}
    path = "/v1/widget/privacy-requests/{request_id}/verify"
    verified = tenant.as_visitor(
        visitor, "POST", path, 200, params={"request_id": request_id}, body=body
    )
    assert verified["status"] == "awaiting_approval", verified
    return request_id


# ---------------------------------------------------------------- bodies

BodyBuilder = Callable[[Tenant, dict[str, str]], Any]

BODY_BUILDERS: dict[tuple[str, str], BodyBuilder] = {
    ("POST", "/v1/departments"): lambda t, _: {"name": f"Dept {t.canary} {unique()}"},
    ("POST", "/v1/labels"): lambda t, _: {"name": f"L{unique()}"},
    ("POST", "/v1/canned-responses"): lambda t, _: {
        "shortcut": unique("s"),
        "title": f"Canned {t.canary}",
        "content": "Refunds take 5 days.",
    },
    ("POST", "/v1/bot/flows"): lambda t, _: flow_body(t),
    ("PUT", "/v1/bot/flows/{flow_id}"): lambda t, _: flow_body(t),
    ("POST", "/v1/bot/knowledge"): lambda t, _: knowledge_body(t),
    ("PUT", "/v1/bot/knowledge/{entry_id}"): lambda t, _: knowledge_body(t),
    ("POST", "/v1/conversations/{conversation_id}/assign"): lambda t, _: {
        "department_id": t.objects["department"]
    },
    ("POST", "/v1/conversations/{conversation_id}/labels"): lambda t, _: {
        "add": [t.objects["label"]],
        "remove": [],
    },
    ("POST", "/v1/conversations/{conversation_id}/messages"): lambda t, _: {
        "text": "Happy to help.",
        "client_message_id": unique("reply"),
    },
    ("POST", "/v1/widget/conversations"): lambda t, _: {
        "client_conversation_id": unique("c"),
        "message": {"client_message_id": unique("m"), "text": "Hello again"},
    },
    ("POST", "/v1/widget/conversations/{conversation_id}/messages"): lambda t, _: {
        "client_message_id": unique("m"),
        "text": "One more thing",
    },
    ("POST", "/v1/widget/conversations/{conversation_id}/handoff"): lambda t, _: {},
    ("POST", "/v1/widget/privacy-requests"): lambda t, _: {
        "type": "export",
        "client_request_id": unique("r"),
    },
    ("POST", "/v1/workspace/widget-keys"): lambda t, _: {"label": f"Key {t.canary}"},
    ("POST", "/v1/bot/preview"): lambda t, _: {
        **samples()["POST /v1/bot/preview"][0],
        "flow_id": t.objects["flow"],
    },
}


def body_for(case: RouteCase, tenant: Tenant, params: dict[str, str]) -> Any:
    """A valid body for a call of `case` in `tenant`: built, or the route's sample's."""
    builder = BODY_BUILDERS.get(case.key)
    if builder is not None:
        return builder(tenant, params)
    body, _ = samples().get(case.route_key, (None, {}))
    return copy.deepcopy(body)


# ---------------------------------------------------------------- the route table


@cache
def _routes_by_key() -> dict[tuple[str, str], RouteCase]:
    return {case.key: case for case in all_routes()}


def route(method: str, path: str) -> RouteCase:
    return _routes_by_key()[(method, path)]


# ---------------------------------------------------------------- fixtures


@dataclass
class World:
    stack: Stack
    home: Tenant  # workspace 1: visitors A and B, the agent, the admin
    away: Tenant  # workspace 2: its admin is the "admin of another workspace"

    def other(self, tenant: Tenant) -> Tenant:
        return self.away if tenant is self.home else self.home


def _without_rate_limits(patch: pytest.MonkeyPatch, stack: Stack) -> None:
    """The matrix and the forged-credential suite send more calls per visitor than the widget
    allows a minute; rate limits are suite 4's subject, so they are raised here (the
    functions' settings objects, as a deployment would configure them)."""
    many = 1_000_000
    widget = load_function("widget_ingest")
    patch.setattr(
        widget,
        "settings",
        widget.settings.model_copy(
            update={
                "rate_session_writes": many,
                "rate_session_reads": many,
                "rate_ip_writes": many,
                "rate_workspace_writes": many,
            }
        ),
    )
    privacy = load_function("privacy_widget")
    patch.setattr(
        privacy,
        "limits",
        dataclasses.replace(privacy.limits, visitor_writes=many, ip_writes=many, email_sends=many),
    )


@pytest.fixture(scope="module")
def quality_world() -> Iterator[World]:
    with quality_stack() as stack, pytest.MonkeyPatch.context() as patch:
        _without_rate_limits(patch, stack)
        home, away = Tenant(stack, "home"), Tenant(stack, "away")
        for tenant in (home, away):
            tenant.provision()
            tenant.build_objects()
        yield World(stack, home, away)


# ---------------------------------------------------------------- personas


@dataclass(frozen=True)
class Persona:
    """Who calls: `kind` is anonymous, visitor, agent or admin; a visitor is A or B."""

    name: str
    tenant: Tenant
    kind: str
    visitor_name: str | None = None

    @property
    def visitor(self) -> Visitor | None:
        return self.tenant.visitors[self.visitor_name] if self.visitor_name else None

    @property
    def sibling(self) -> Visitor | None:
        """The other visitor of the same workspace."""
        if self.visitor_name is None:
            return None
        return self.tenant.visitors["b" if self.visitor_name == "a" else "a"]

    def headers(self, surface: str) -> dict[str, str]:
        if self.kind == "anonymous":
            return {"origin": ORIGIN if surface == "widget" else DASHBOARD_ORIGIN}
        if self.kind == "visitor":
            assert self.visitor is not None
            return self.visitor.headers()
        return self.tenant.dashboard_headers("admin" if self.kind == "admin" else "member")


def personas(world: World) -> list[Persona]:
    home, away = world.home, world.away
    return [
        Persona("anonymous", home, "anonymous"),
        Persona("visitor A", home, "visitor", "a"),
        Persona("visitor B", home, "visitor", "b"),
        Persona("agent", home, "agent"),
        Persona("admin", home, "admin"),
        Persona("admin of another workspace", away, "admin"),
    ]
