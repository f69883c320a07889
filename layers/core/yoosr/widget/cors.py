"""Per-workspace CORS for the widget, enforced in the app.

Every actual request is checked against the workspace's allowed origins (exact match) before
anything is read or written (yoosr.widget.auth); only an allowed origin is echoed. Preflights
are answered for any well-formed origin (see yoosr.cors).
"""

from __future__ import annotations

from yoosr.cors import ORIGIN, EchoApprovedOrigin

__all__ = ["ORIGIN", "STATE_KEY", "WidgetCors", "allowed"]

STATE_KEY = "cors_origin"


def allowed(origin: str | None, allowed_origins: list[str]) -> bool:
    """Exact match; a workspace that lists no origins accepts any (API.md)."""
    if not allowed_origins:
        return True
    return origin is not None and origin in allowed_origins


class WidgetCors(EchoApprovedOrigin):
    state_key = STATE_KEY
    allow_methods = "GET, POST, PATCH, OPTIONS"
    allow_headers = "authorization, content-type, x-yoosr-widget-key"
