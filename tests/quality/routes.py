"""The route table of the quality suites (issue 8), derived from template.yaml.

Every HttpApi event of every function (OPTIONS preflights aside) becomes a `RouteCase`: the
function serving it (its CodeUri folder), its surface (`widget` for /v1/widget/…, else
`dashboard`), the minimum role ROUTE_ROLES gives a dashboard route, the kind of object each path
parameter names, and a valid request body taken from the route's sample event in events/.
A route that cannot be mapped (a path parameter of an unknown kind, a dashboard route missing
from ROUTE_ROLES, a body route without a sample or a builder, a function without code) is listed
by `unmapped()`, and a test fails on it: a new route is covered, or fails loudly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from local.template import load_template
from tests.support import ROOT

WIDGET_PREFIX = "/v1/widget/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Path parameter → the kind of object it names (tests.quality.personas makes one of each kind
# in every workspace). A parameter not listed here leaves its route unmapped.
PARAM_KINDS: dict[str, str] = {
    "conversation_id": "conversation",
    "department_id": "department",
    "label_id": "label",
    "canned_id": "canned",
    "flow_id": "flow",
    "entry_id": "knowledge",
    "key_id": "widget_key",
    "request_id": "privacy_request",
    "user_id": "agent",
}

# The kinds a widget route may name: a visitor owns conversations and privacy requests.
WIDGET_KINDS = frozenset({"conversation", "privacy_request"})

# Routes whose valid body must name objects of the caller's workspace or be unique per call are
# built by tests.quality.personas.BODY_BUILDERS; every other body comes from events/.


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    function: str  # logical id in template.yaml
    folder: str  # functions/<folder>/app.py
    surface: str  # "dashboard" | "widget"
    role: str | None  # minimum role of a dashboard route (ROUTE_ROLES); None for widget routes
    params: tuple[str, ...]  # path parameter names, in order

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(PARAM_KINDS.get(name, "?") for name in self.params)

    @property
    def kind(self) -> str | None:
        """The kind of the object the route names (its last path parameter), if any."""
        return self.kinds[-1] if self.params else None

    @property
    def mutating(self) -> bool:
        return self.method != "GET"


def _params(path: str) -> tuple[str, ...]:
    return tuple(part[1:-1] for part in path.split("/") if part.startswith("{"))


@cache
def samples() -> dict[str, tuple[Any, dict[str, str]]]:
    """routeKey → (JSON body or None, query) of the sample events in events/."""
    found: dict[str, tuple[Any, dict[str, str]]] = {}
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        route_key = event.get("routeKey")
        if not isinstance(route_key, str) or route_key.startswith("OPTIONS "):
            continue
        raw = event.get("body")
        body = json.loads(raw) if raw else None
        query = dict(parse_qsl(event.get("rawQueryString") or ""))
        found.setdefault(route_key, (body, query))
    return found


@cache
def template() -> Any:
    """template.yaml, parsed once per process (parsing it takes a while)."""
    return load_template(ROOT / "template.yaml")


@cache
def all_routes() -> tuple[RouteCase, ...]:
    """Every non-OPTIONS route template.yaml declares, whether or not it can be mapped."""
    # Imported here: yoosr.observability reads the environment once, at its first import,
    # which must come after the test environment is set (tests.quality.personas sets it).
    from yoosr.dashboard.access import ROUTE_ROLES

    parsed = template()
    cases = []
    for route in parsed.routes:
        if route.method == "OPTIONS":
            continue
        spec = parsed.functions[route.function]
        surface = "widget" if route.path.startswith(WIDGET_PREFIX) else "dashboard"
        role = ROUTE_ROLES.get((route.method, route.path)) if surface == "dashboard" else None
        cases.append(
            RouteCase(
                route.method,
                route.path,
                route.function,
                Path(spec.code_uri).name,
                surface,
                role,
                _params(route.path),
            )
        )
    return tuple(sorted(cases, key=lambda c: (c.path, c.method)))


def unmapped(
    body_builders: set[tuple[str, str]], cases: tuple[RouteCase, ...] | None = None
) -> dict[str, str]:
    """routeKey → why the matrix cannot call it (of template.yaml's routes, or of `cases`)."""
    problems: dict[str, str] = {}
    for case in all_routes() if cases is None else cases:
        if case.method == "ANY" or "+}" in case.path:
            problems[case.route_key] = "ANY method or greedy path: no single request to build"
        elif not (ROOT / "functions" / case.folder / "app.py").exists():
            problems[case.route_key] = f"no functions/{case.folder}/app.py"
        elif any(name not in PARAM_KINDS for name in case.params):
            unknown = [n for n in case.params if n not in PARAM_KINDS]
            problems[case.route_key] = f"path parameter(s) {unknown} of no known object kind"
        elif case.surface == "widget" and not set(case.kinds) <= WIDGET_KINDS:
            problems[case.route_key] = f"widget route naming {case.kinds}: no visitor owns those"
        elif case.surface == "dashboard" and case.role is None:
            problems[case.route_key] = "dashboard route missing from ROUTE_ROLES"
        elif (
            case.method in BODY_METHODS
            and case.route_key not in samples()
            and case.key not in body_builders
        ):
            problems[case.route_key] = "body route without a sample in events/ or a body builder"
    return problems


def mapped(body_builders: set[tuple[str, str]]) -> list[RouteCase]:
    problems = unmapped(body_builders)
    return [case for case in all_routes() if case.route_key not in problems]
