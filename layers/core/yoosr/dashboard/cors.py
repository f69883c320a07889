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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yoosr.widget.cors import ORIGIN

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "authorization, content-type"
EXPOSE_HEADERS = "retry-after"
PREFLIGHT_MAX_AGE = "600"
STATE_KEY = "dashboard_cors_origin"


def allow_origin(scope_state: dict[str, Any], origin: str | None, allowed: list[str]) -> None:
    """Record that `origin` may read this response (called once the workspace is known)."""
    if origin and origin in allowed:
        scope_state[STATE_KEY] = origin


class DashboardCors:
    def __init__(self, app: ASGIApp, static_origins: Callable[[], list[str]]) -> None:
        self.app = app
        self.static_origins = static_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(origin, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        allow_origin(state, origin, self.static_origins())

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                echoed = state.get(STATE_KEY)
                if echoed:
                    extra += [
                        (b"access-control-allow-origin", echoed.encode()),
                        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                    ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)

    @staticmethod
    async def _preflight(origin: str | None, send: Send) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        status = 403
        if origin and ORIGIN.match(origin):
            status = 204
            headers += [
                (b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def dashboard_cors(static_origins: Callable[[], list[str]]) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory create_app's `extra_middleware` takes."""

    def factory(app: ASGIApp) -> ASGIApp:
        return DashboardCors(app, static_origins)

    return factory
