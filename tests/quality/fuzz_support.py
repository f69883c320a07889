"""Support for the fuzzing suite (issue 8, suite 3): the stack on moto, each HTTP function's
Lambda handler behind a small WSGI shim that builds API Gateway (HTTP API, payload 2.0)
events, the committed OpenAPI documents with their credentials declared as security schemes,
the personas, and a runner that counts cases and failures per check.

Why a WSGI shim around the Lambda handler rather than the FastAPI app itself: in production
every request reaches the app through API Gateway and Mangum (`lambda_handler_for`), which
decide the path, the query string, the source IP (`aws.event`), base64 bodies and the response
headers. Going through the real `lambda_handler` keeps all of that in the loop. WSGI (not a
`requests` adapter) because schemathesis sends the `ignored_auth` probes with the schema's
transport and without the session: an `app` on the schema is the one transport every request,
probes included, goes through. The shim is synchronous, so Mangum runs its own event loop on
the test's thread exactly as it does in Lambda.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import os
import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import boto3
from hypothesis import HealthCheck, Phase, given, seed, settings

from local import moto_fixes
from local.resources import ResourceMap, create_resources, function_environment
from local.template import Template, load_template
from tests.integration.dashboard_support import (
    configure_dashboard_env,
    dev_issuer,
)
from tests.integration.widget_support import ORIGIN
from tests.support import FAKE_AWS_ENV, ROOT, HttpHandlerClient, LambdaContext, load_function
from yoosr import ids
from yoosr.provisioning import issue_widget_key, provision_workspace

os.environ.update(FAKE_AWS_ENV)

SOURCE_IP = "203.0.113.7"
SEED = 20261130  # hypothesis seed: the same cases on every run
EMAIL_IDENTITY = "yoosr.example"

DASHBOARD_FUNCTIONS = ("agent_routing", "analytics", "bot_reply", "privacy", "workspace")
WIDGET_FUNCTIONS = ("widget_ingest", "privacy_widget")

# ------------------------------------------------------------------ the stack


@dataclass
class Stack:
    template: Template
    resources: ResourceMap

    def table(self, logical_id: str) -> str:
        return str(self.resources.ref(logical_id))


def make_stack() -> Stack:
    """Resources from template.yaml in the active moto (safe to call again)."""
    moto_fixes.apply()
    template = load_template(ROOT / "template.yaml")
    resources = create_resources(template, boto3.Session())
    boto3.client("ses").verify_domain_identity(Domain=EMAIL_IDENTITY)
    return Stack(template, resources)


def _logical_ids(template: Template) -> dict[str, str]:
    """Function folder → logical id, from the template's CodeUri."""
    return {
        spec.code_uri.rstrip("/").rsplit("/", 1)[-1]: logical_id
        for logical_id, spec in template.functions.items()
    }


def load_configured(stack: Stack, folder: str) -> ModuleType:
    """The function's module, imported with the environment its template entry gives it
    (dashboard functions trusting the shared development issuer), like a warm Lambda."""
    logical_id = _logical_ids(stack.template)[folder]
    if folder in DASHBOARD_FUNCTIONS:
        configure_dashboard_env(stack, logical_id)
    else:
        env = function_environment(stack.template, logical_id, stack.resources)
        env.pop("POWERTOOLS_SERVICE_NAME", None)
        os.environ.update(env)
    module = load_function(folder)
    settings_obj = getattr(module, "settings", None)
    if folder in DASHBOARD_FUNCTIONS and settings_obj is not None:
        assert settings_obj.clerk_pem_public_key == dev_issuer().public_pem, (
            f"{folder} was configured with another issuer; mint tokens with dev_issuer()"
        )
    return module


# ------------------------------------------------------------------ API Gateway in front


@dataclass(frozen=True)
class RouteTemplate:
    method: str
    path: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]


def route_templates(stack: Stack, folder: str) -> list[RouteTemplate]:
    logical_id = _logical_ids(stack.template)[folder]
    found = []
    for route in stack.template.routes:
        if route.function != logical_id:
            continue
        names = tuple(re.findall(r"{([^}+]+)\+?}", route.path))
        regex = re.sub(r"{[^}]+\+}", "(.+)", route.path)
        regex = re.sub(r"{[^}]+}", "([^/]+)", regex)
        found.append(RouteTemplate(route.method, route.path, re.compile(f"^{regex}$"), names))
    return found


class ApiGatewayShim:
    """A WSGI application that turns each request into the HTTP API payload 2.0 event API
    Gateway would send, calls the function's `lambda_handler`, and turns its result back into
    a response. A path no route of the function matches is still handed to the function
    (routeKey `$default`) so the app's own 404 is what is checked; in AWS, API Gateway
    would answer it without calling the function."""

    def __init__(
        self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], routes: list[RouteTemplate]
    ) -> None:
        self.handler = handler
        self.routes = routes
        self.calls = 0

    def _match(self, method: str, raw_path: str) -> tuple[str, dict[str, str]]:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            match = route.pattern.match(raw_path)
            if match:
                params = {n: unquote(v) for n, v in zip(route.names, match.groups(), strict=True)}
                return f"{route.method} {route.path}", params
        return "$default", {}

    def event(self, environ: dict[str, Any]) -> dict[str, Any]:
        method = environ["REQUEST_METHOD"].upper()
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        raw_path = raw_uri.split("?", 1)[0] if raw_uri else environ.get("PATH_INFO", "/")
        path = unquote(raw_path)
        headers: dict[str, str] = {}
        for key, value in environ.items():
            name = None
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").lower()
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = key.replace("_", "-").lower()
            if name and value != "":
                # WSGI carries header bytes as latin-1; API Gateway hands them on as UTF-8.
                text = value.encode("latin-1").decode("utf-8", "replace")
                headers[name] = f"{headers[name]},{text}" if name in headers else text
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        route_key, params = self._match(method, raw_path)
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "fuzz",
                "domainName": "fuzz.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "fuzz",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": SOURCE_IP,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": False,
        }
        if params:
            event["pathParameters"] = params
        query = environ.get("QUERY_STRING", "")
        if query:
            pairs: dict[str, list[str]] = {}
            for part in query.split("&"):
                key, _, value = part.partition("=")
                pairs.setdefault(unquote(key.replace("+", " ")), []).append(
                    unquote(value.replace("+", " "))
                )
            # HTTP API joins repeated query parameters with commas.
            event["queryStringParameters"] = {k: ",".join(v) for k, v in pairs.items()}
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        return event

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        result = self.handler(self.event(environ), LambdaContext())
        status = int(result["statusCode"])
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("set-cookie", c) for c in result.get("cookies") or []]
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{status} {reason}", headers)
        return [payload]


# ------------------------------------------------------------------ the schemas

DASHBOARD_SCHEMES = {
    "clerkSession": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
WIDGET_SCHEMES = {
    "widgetKey": {"type": "apiKey", "in": "header", "name": "X-Yoosr-Widget-Key"},
    "visitorSession": {"type": "http", "scheme": "bearer"},
}
_CREDENTIAL_HEADERS = {"authorization", "x-yoosr-widget-key"}


def load_schema(folder: str, app: Any) -> Any:
    """The function's schema for schemathesis, sending every request (probes too) to `app`.

    The configuration is explicit (no schemathesis.toml is discovered). 413 joins the
    statuses that count as rejecting invalid data: every operation documents it, and a
    string far over its maxLength is refused by the body size guard before validation."""
    import schemathesis
    from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

    expected = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
    config = schemathesis.Config.from_dict(
        {
            "checks": {"negative_data_rejection": {"expected-statuses": expected}},
            # Unknown query parameters are ignored by design (as most HTTP APIs do: an older
            # API answers a newer widget), and OpenAPI cannot say so; schemathesis counts an
            # extra query parameter as invalid data (its issue #3730). Extra body properties
            # stay covered by the models (extra="forbid") and the bad-input tests.
            "generation": {"allow-extra-parameters": False},
        }
    )
    schema = schemathesis.openapi.from_dict(
        with_security(folder, committed_schema(folder)), config=config
    )
    schema.app = app
    return schema


def committed_schema(folder: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi" / f"{folder}.json").read_text())


def with_security(folder: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The committed document with its credentials declared the OpenAPI way.

    The apps read the credentials with plain (optional) header parameters, so the committed
    documents list `authorization` / `X-Yoosr-Widget-Key` as optional headers and declare no
    security. Schemathesis' auth check only knows operations that declare security, so the
    suite moves those headers into security schemes: Clerk bearer for the dashboard; the
    widget key, plus the visitor session where the operation reads it, for the widget."""
    schema = copy.deepcopy(raw)
    widget = folder in WIDGET_FUNCTIONS
    schema.setdefault("components", {})["securitySchemes"] = (
        WIDGET_SCHEMES if widget else DASHBOARD_SCHEMES
    )
    for operations in schema["paths"].values():
        for operation in operations.values():
            params = operation.get("parameters", [])
            names = {p["name"].lower() for p in params if p.get("in") == "header"}
            if widget:
                requirement = {"widgetKey": []}
                if "authorization" in names:
                    requirement["visitorSession"] = []
                operation["security"] = [requirement]
            else:
                operation["security"] = [{"clerkSession": []}]
            operation["parameters"] = [
                p
                for p in params
                if not (p.get("in") == "header" and p["name"].lower() in _CREDENTIAL_HEADERS)
            ]
    schema["servers"] = [{"url": "http://localhost"}]
    return schema


# ------------------------------------------------------------------ personas


@dataclass
class Persona:
    name: str
    headers: dict[str, str]  # credentials (empty for anonymous) and the origin
    authenticated: bool
    seeds: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def provisioned_org(stack: Stack) -> tuple[str, str, str]:
    """A seeded workspace: (org id, workspace id, widget key), its widget on ORIGIN."""
    org_id = f"org_{uuid.uuid4().hex[:20]}"
    settings_ = {"allowed_origins": [ORIGIN], "identity_secret": "site-secret-123"}
    made = provision_workspace(stack.table("WorkspacesTable"), org_id, "Acme", settings_)
    key = issue_widget_key(stack.table("WorkspacesTable"), made.workspace_id)
    assert made.workspace_id == ids.workspace_id_for_org(org_id)
    return org_id, made.workspace_id, key


def start_visitor(
    widget: HttpHandlerClient, key: str, conversations: int = 2
) -> tuple[str, list[str]]:
    """A widget session on `key` and `conversations` started conversations: (token, ids)."""
    base = {"x-yoosr-widget-key": key, "origin": ORIGIN}
    made = widget.call("widget_create_session", json_body={}, headers=dict(base))
    assert made.status == 201, made.body
    token = made.json["session_token"]
    started = []
    for n in range(conversations):
        response = widget.call(
            "widget_start_conversation",
            json_body={
                "client_conversation_id": str(uuid.uuid4()),
                "message": {"client_message_id": str(uuid.uuid4()), "text": f"Hello {n}"},
            },
            headers={**base, "authorization": f"Bearer {token}"},
        )
        assert response.status == 201, response.body
        started.append(str(response.json["id"]))
    return token, started


# ------------------------------------------------------------------ the runner


@dataclass
class Tally:
    """Cases and failures of one persona over one function's operations."""

    cases: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def fail(self, check: str, label: str, detail: str) -> None:
        self.failures[check] = self.failures.get(check, 0) + 1
        if len(self.examples) < 12:
            self.examples.append(f"[{check}] {label}: {detail[:1500]}")


def collection_key(path: str) -> tuple[str, str] | None:
    """('/v1/departments', 'department_id') for '/v1/departments/{department_id}/…'."""
    match = re.match(r"^(.*?)/{([^}]+)}", path)
    return (match.group(1), match.group(2)) if match else None


def harvest(
    path: str, method: str, status: int, body: Any, pools: dict[tuple[str, str], list[str]]
) -> None:
    """Ids of objects that exist, from creations and listings, for later path parameters."""
    if not 200 <= status < 300 or not isinstance(body, dict):
        return
    for (prefix, name), pool in pools.items():
        if path != prefix:
            continue
        found: list[Any] = []
        if method == "POST":
            found = [body.get(name, body.get("id"))]
        elif method == "GET" and isinstance(body.get("items"), list):
            found = [
                item.get(name, item.get("id")) for item in body["items"] if isinstance(item, dict)
            ]
        for value in found:
            if isinstance(value, str) and value and value not in pool:
                pool.append(value)


def operation_order(label: str) -> tuple[int, str]:
    """Creations and listings first (they feed the id pools), deletions last."""
    method, path = label.split(" ", 1)
    if path.endswith("/deletion"):
        # Scheduling the workspace's deletion freezes it (403 for what follows): last of all.
        rank = 4 if method == "POST" else 5
    elif method == "DELETE":
        rank = 3
    elif "{" not in path:
        rank = 0 if method == "POST" else 1
    else:
        rank = 2
    return rank, label


def generate_cases(op: Any, examples: int) -> list[Any]:
    """`examples` positive then `examples` negative cases of one operation, the same on every
    run (a fixed seed: CI is deterministic). Generated once and sent as every persona."""
    from schemathesis import GenerationMode

    cases: list[Any] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @seed(SEED)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


def run_operations(
    operations: list[tuple[Any, list[Any]]],
    persona: Persona,
    checks: dict[str, Any],
    limit: tuple[int, int],
    tally: Tally,
    *,
    extra_checks: dict[str, Callable[[Any, Any], str | None]] | None = None,
    excluded: Callable[[str, str, Any], bool] | None = None,
) -> None:
    """Send every operation's generated cases (at most `limit` = (positive, negative) of them)
    as `persona`; each response goes through every check separately so failures are counted
    per check. Half of the cases (chosen by a seeded draw) name an object that exists, from
    the persona's seeds or what earlier operations created or listed."""
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.parameters import ParameterLocation

    ordered = sorted(operations, key=lambda pair: operation_order(pair[0].label))
    auth_confirmed: set[str] = set()
    pools = persona.seeds
    for op, _ in ordered:
        key = collection_key(op.path)
        if key is not None:
            pools.setdefault(key, [])
    for op, generated in ordered:
        chooser = random.Random(f"{SEED}:{persona.name}:{op.label}")
        positives = [c for c in generated if not (c.meta and c.meta.generation.mode.is_negative)]
        negatives = [c for c in generated if c.meta and c.meta.generation.mode.is_negative]
        key = collection_key(op.path)
        # An operation with a small input space runs out of distinct cases: its cases are
        # sent again (in order) until the persona's count is reached.
        chosen = _cycled(positives, limit[0]) + _cycled(negatives, limit[1])
        for generated_case in chosen:
            case = generated_case.derive()
            pool = pools.get(key) if key else None
            negative_path = case.meta is not None and case.meta.is_negative_at(
                ParameterLocation.PATH
            )
            if key and pool and not negative_path and chooser.random() < 0.5:
                case.path_parameters[key[1]] = chooser.choice(pool)
            headers = _credentials_kept(persona.headers, case)
            response = case.call(headers=headers)
            tally.cases += 1
            tally.per_operation[op.label] = tally.per_operation.get(op.label, 0) + 1
            tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
            try:
                body = response.json()
            except ValueError:
                body = None
            harvest(op.path, op.method.upper(), response.status_code, body, pools)
            for name, check in checks.items():
                if excluded is not None and excluded(name, op.label, case):
                    continue
                if name == "ignored_auth" and op.label in auth_confirmed:
                    # With the persona's credentials the check re-sends the request without
                    # and with invalid ones; once per operation proves it (as schemathesis' own
                    # runner does), later cases only cost time.
                    continue
                try:
                    case.validate_response(
                        response,
                        checks=[check],
                        headers=headers,
                        transport_kwargs={"headers": headers},
                    )
                except FailureGroup as group:
                    tally.fail(name, op.label, f"{response.status_code} {group}")
                else:
                    if (
                        name == "ignored_auth"
                        and persona.authenticated
                        and response.status_code < 300
                    ):
                        auth_confirmed.add(op.label)
            for name, extra in (extra_checks or {}).items():
                problem = extra(case, response)
                if problem:
                    tally.fail(name, op.label, problem)


def _credentials_kept(persona_headers: dict[str, str], case: Any) -> dict[str, str]:
    """The persona's headers, less any credential the negative case itself negated (left out
    or malformed): the request then carries the case's own value, so the negation is really
    sent and the API's answer to it is what the checks judge. Overriding it with the valid
    credential would make schemathesis count, say, an ignored extra query parameter on a
    request it believes lacks `Authorization` as accepted invalid data."""
    from schemathesis.core.parameters import ParameterLocation

    mutations = getattr(getattr(case.meta, "phase", None), "data", None)
    negated = {
        str(m.parameter).lower()
        for m in getattr(mutations, "mutations", ()) or ()
        if m.parameter_location == ParameterLocation.HEADER and m.parameter
    }
    return {k: v for k, v in persona_headers.items() if k.lower() not in negated}


def _cycled(cases: list[Any], count: int) -> list[Any]:
    return list(itertools.islice(itertools.cycle(cases), count)) if cases else []


def check_functions() -> dict[str, Any]:
    """The checks the suite runs, by the names schemathesis reports them under."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        ignored_auth,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    return {
        "not_a_server_error": not_a_server_error,
        "response_schema_conformance": response_schema_conformance,
        "status_code_conformance": status_code_conformance,
        "content_type_conformance": content_type_conformance,
        "negative_data_rejection": negative_data_rejection,
        "ignored_auth": ignored_auth,
    }


# ------------------------------------------------------------------ a broken build, on purpose

SABOTAGES = (
    "server_error",
    "schema",
    "undocumented_status",
    "content_type",
    "negative_accepted",
    "auth_ignored",
)


def sabotaged(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], mode: str, token: str
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler with one defect each check must catch: a 500, a 200 body that breaks its
    schema, a refusal with a status the operation does not document, a text/plain answer,
    invalid input answered 200, or credentials not needed (every request runs with `token`
    whatever it carried)."""

    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if mode == "auth_ignored":
            event = {**event, "headers": {**event["headers"], "authorization": f"Bearer {token}"}}
        result = dict(handler(event, context))
        status = int(result["statusCode"])
        headers = dict(result.get("headers") or {})
        if mode == "server_error":
            result["statusCode"] = 500
        elif mode == "schema" and status == 200:
            result["body"] = json.dumps({"unexpected": True})
        elif mode == "undocumented_status" and status == 422:
            result["statusCode"] = 418
        elif mode == "content_type":
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            headers["content-type"] = "text/plain"
        elif mode == "negative_accepted" and status in (400, 422):
            result["statusCode"] = 200
        result["headers"] = headers
        return result

    return broken
