"""FastAPI pieces shared by the dashboard functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Header, Request

from yoosr.dashboard.access import DashboardCaller, authenticate
from yoosr.settings import DashboardSettings


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's full path template. A router included with a prefix matches an
    APIRoute whose own path lacks the prefix; FastAPI keeps the effective (prefixed) path in
    its scope, so that is used when present."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path", None)
    if isinstance(path, str) and path:
        return path
    return str(getattr(scope.get("route"), "path", ""))


def caller_dependency(
    settings: Callable[[], DashboardSettings],
) -> Callable[..., DashboardCaller]:
    """A dependency that authenticates the caller against the route table, keyed by the
    matched route's path template (never the raw path)."""

    def dependency(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> DashboardCaller:
        return authenticate(
            settings(),
            authorization,
            request.method,
            route_template(request.scope),
            cors_state=request.scope.setdefault("state", {}),
            origin=request.headers.get("origin"),
        )

    return dependency
