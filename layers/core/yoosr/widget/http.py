"""The widget's credentials read from an HTTP request, for every function serving widget
routes (widget_ingest, privacy_widget): one place that turns headers into a WidgetCaller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from yoosr.settings import WidgetIngestSettings
from yoosr.widget.auth import WidgetCaller, authenticate, bearer

WidgetKey = Annotated[str | None, Header(alias="X-Yoosr-Widget-Key")]
Authorization = Annotated[str | None, Header()]


def client_ip(request: Request) -> str:
    """API Gateway's source IP (the local stack sets it too), else the socket's peer."""
    event = request.scope.get("aws.event") or {}
    source = event.get("requestContext", {}).get("http", {}).get("sourceIp")
    return str(source or (request.client.host if request.client else "unknown"))


def widget_caller(
    settings: WidgetIngestSettings,
    request: Request,
    widget_key: str | None,
    authorization: str | None,
    *,
    need_session: bool,
    conversation_id: str | None = None,
) -> WidgetCaller:
    return authenticate(
        settings,
        widget_key=widget_key,
        origin=request.headers.get("origin"),
        client_ip=client_ip(request),
        session_token=bearer(authorization),
        need_session=need_session,
        conversation_id=conversation_id,
        state=request.scope.setdefault("state", {}),
    )
