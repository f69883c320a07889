"""Per-workspace CORS for the widget, enforced in the app.

API-level CORS on an HTTP API answers preflights itself and cannot know a workspace's
allowed origins, so the function does it. A preflight carries no widget key, so it cannot be
tied to a workspace: it is answered for any well-formed http(s) origin, and every actual
request is checked against the workspace's list (exact match) before anything is read or
written. Only an allowed origin is echoed in Access-Control-Allow-Origin.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")
ALLOW_HEADERS = "authorization, content-type, x-yoosr-widget-key"
EXPOSE_HEADERS = "retry-after"
PREFLIGHT_MAX_AGE = "600"
STATE_KEY = "cors_origin"


def allowed(origin: str | None, allowed_origins: list[str]) -> bool:
    """Exact match; a workspace that lists no origins accepts any (API.md)."""
    if not allowed_origins:
        return True
    return origin is not None and origin in allowed_origins


class WidgetCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                (b"access-control-allow-methods", b"GET, POST, PATCH, OPTIONS"),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
