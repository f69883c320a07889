"""FastAPI pieces shared by the dashboard functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Header, Request

from yoosr.dashboard.access import DashboardCaller, authenticate
from yoosr.settings import DashboardSettings


def caller_dependency(settings: Callable[[], DashboardSettings]
                      ) -> Callable[..., DashboardCaller]:
    """A dependency that authenticates the caller against the route table, keyed by the
    matched route's path template (never the raw path)."""

    def dependency(request: Request,
                   authorization: Annotated[str | None, Header()] = None) -> DashboardCaller:
        route = request.scope.get("route")
        template = str(getattr(route, "path", ""))
        return authenticate(settings(), authorization, request.method, template)

    return dependency
