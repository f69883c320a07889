"""Workspace administration: the dashboard API for a workspace's settings, its
identity-verification secret and its widget keys (API.md, "Dashboard API").

Every route needs a Clerk session token of the workspace's organization; the minimum role
of each route is in yoosr.dashboard.access.ROUTE_ROLES. Routes are glue: parse, one call into
yoosr.workspace_admin.service, return the response model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response

from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.cors import dashboard_cors
from yoosr.dashboard.http import caller_dependency
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.models.common import Page
from yoosr.models.workspace_admin import (
    IdentitySecretOut,
    WidgetKeyCreate,
    WidgetKeyOut,
    WorkspaceOut,
    WorkspacePatch,
)
from yoosr.settings import WorkspaceAdminSettings, get_settings
from yoosr.workspace_admin import service

settings = get_settings(WorkspaceAdminSettings)
app = create_app(
    title="Yoosr workspace administration API",
    description="Dashboard API for a workspace's settings, identity-verification secret and "
    "widget keys. Every call carries Authorization: Bearer <Clerk session token>; the "
    "workspace is the token's active organization.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[dashboard_cors(lambda: settings.authorized_parties)],
)

Caller = Annotated[DashboardCaller, Depends(caller_dependency(lambda: settings))]
KeyId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=1024)]
NO_STORE = "no-store"


@app.get("/v1/workspace", response_model=WorkspaceOut, responses=ERROR_RESPONSES)
def get_workspace(caller: Caller) -> WorkspaceOut:
    """The workspace and its settings. The identity secret is never shown here, only whether
    one is set."""
    return service.get_workspace(caller)


@app.patch("/v1/workspace", response_model=WorkspaceOut, responses=ERROR_RESPONSES)
def update_workspace(caller: Caller, body: WorkspacePatch) -> WorkspaceOut:
    """Change settings; fields not given keep their value. Unknown fields are refused (422),
    so ids, workspace, roles and the identity secret are never writable here."""
    return service.update_workspace(settings, caller, body)


@app.post(
    "/v1/workspace/identity-secret",
    response_model=IdentitySecretOut,
    responses=ERROR_RESPONSES,
)
def rotate_identity_secret(response: Response, caller: Caller) -> IdentitySecretOut:
    """Make a new identity-verification secret and show it this once."""
    response.headers["Cache-Control"] = NO_STORE
    return service.rotate_identity_secret(settings, caller)


@app.get("/v1/workspace/widget-keys", response_model=Page[WidgetKeyOut], responses=ERROR_RESPONSES)
def list_widget_keys(
    caller: Caller, limit: Limit = 50, cursor: Cursor = None
) -> Page[WidgetKeyOut]:
    """The workspace's widget keys, newest first, revoked ones included."""
    return service.list_widget_keys(settings, caller, limit, cursor)


@app.post(
    "/v1/workspace/widget-keys",
    status_code=201,
    response_model=WidgetKeyOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def create_widget_key(caller: Caller, body: WidgetKeyCreate) -> WidgetKeyOut:
    """A new public widget key; 409 when the workspace already has the maximum active keys."""
    return service.create_widget_key(settings, caller, body.label)


@app.get(
    "/v1/workspace/widget-keys/{key_id}", response_model=WidgetKeyOut, responses=ERROR_RESPONSES
)
def get_widget_key(caller: Caller, key_id: KeyId) -> WidgetKeyOut:
    return service.get_widget_key(settings, caller, key_id)


@app.delete(
    "/v1/workspace/widget-keys/{key_id}", response_model=WidgetKeyOut, responses=ERROR_RESPONSES
)
def revoke_widget_key(caller: Caller, key_id: KeyId) -> WidgetKeyOut:
    """Revoke a key: widget calls with it fail at once (401). Revoking again returns it."""
    return service.revoke_widget_key(settings, caller, key_id)


lambda_handler = lambda_handler_for(app)
