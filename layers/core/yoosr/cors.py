"""CORS enforced in the app (an HTTP API's own CORS answers preflights without the backend).

One middleware serves the widget and the dashboard APIs. A preflight carries no credential, so
it cannot be tied to a workspace: it is answered for any well-formed http(s) origin and grants
nothing by itself. An actual response echoes the request's origin only once request handling
has approved it (recorded in the ASGI scope state under `state_key`); otherwise the browser
cannot read the response. `Vary: Origin` always.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")
EXPOSE_HEADERS = "retry-after"
PREFLIGHT_MAX_AGE = "600"


class EchoApprovedOrigin:
    state_key: ClassVar[str]
    allow_methods: ClassVar[str]
    allow_headers: ClassVar[str]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def approve_early(self, state: dict[str, Any], origin: str | None) -> None:
        """Approve an origin before the request is handled (e.g. a deployment-wide list)."""

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
        self.approve_early(state, origin)

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                echoed = state.get(self.state_key)
                if echoed:
                    extra += [
                        (b"access-control-allow-origin", echoed.encode()),
                        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                    ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, origin: str | None, send: Send) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        status = 403
        if origin and ORIGIN.match(origin):
            status = 204
            headers += [
                (b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-methods", self.allow_methods.encode()),
                (b"access-control-allow-headers", self.allow_headers.encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
