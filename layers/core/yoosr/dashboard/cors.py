"""CORS for the dashboard API, enforced in the app.

Dashboards are browser apps on other origins that send `Authorization: Bearer`, so every call is
preflighted. A preflight carries no token and cannot be tied to a workspace, so it is answered
for any well-formed http(s) origin (it grants nothing: the token's signature and `azp` decide).
An actual response echoes the origin only when it is one of the deployment's dashboard origins
(ClerkAuthorizedParties) or, once the caller is authenticated, one of its workspace's
`allowed_dashboard_origins`; a browser on any other origin cannot read the response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from yoosr.cors import EchoApprovedOrigin

STATE_KEY = "dashboard_cors_origin"


def allow_origin(scope_state: dict[str, Any], origin: str | None, allowed: list[str]) -> None:
    """Record that `origin` may read this response (called once the workspace is known)."""
    if origin and origin in allowed:
        scope_state[STATE_KEY] = origin


class DashboardCors(EchoApprovedOrigin):
    state_key = STATE_KEY
    allow_methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    allow_headers = "authorization, content-type"

    def __init__(self, app: ASGIApp, static_origins: Callable[[], list[str]]) -> None:
        super().__init__(app)
        self.static_origins = static_origins

    def approve_early(self, state: dict[str, Any], origin: str | None) -> None:
        allow_origin(state, origin, self.static_origins())


def dashboard_cors(static_origins: Callable[[], list[str]]) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory create_app's `extra_middleware` takes."""

    def factory(app: ASGIApp) -> ASGIApp:
        return DashboardCors(app, static_origins)

    return factory
