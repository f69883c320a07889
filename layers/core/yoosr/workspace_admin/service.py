"""Workspace administration use cases. Each takes the authenticated dashboard caller (whose
workspace is the token's organization, never a request parameter) and a validated body, and
returns a response model; routes in functions/workspace only adapt HTTP to these calls."""

from __future__ import annotations

import re
import secrets
from typing import Any

from yoosr import clock, ids
from yoosr.dashboard.access import DashboardCaller
from yoosr.errors import Conflict, NotFound
from yoosr.models.common import Page
from yoosr.models.workspace import Workspace
from yoosr.models.workspace_admin import (
    NULLABLE_SETTINGS,
    IdentitySecretOut,
    WidgetKeyOut,
    WorkspaceOut,
    WorkspacePatch,
    WorkspaceSettingsOut,
)
from yoosr.observability import count, logger
from yoosr.settings import WorkspaceAdminSettings
from yoosr.store import workspaces
from yoosr.widget.auth import new_widget_key

IDENTITY_SECRET_PREFIX = "yis"  # noqa: S105 - a prefix, not a secret
_KEY_ID = re.compile(ids.ULID_PATTERN)


def workspace_out(workspace: Workspace) -> WorkspaceOut:
    stored = workspace.settings
    return WorkspaceOut(
        id=workspace.workspace_id,
        org_id=workspace.org_id,
        name=workspace.name,
        status=workspace.status,
        created_at=workspace.created_at,
        updated_at=workspace.updated_at,
        settings_version=workspace.settings_version,
        settings=WorkspaceSettingsOut(
            allowed_origins=stored.allowed_origins,
            allowed_dashboard_origins=stored.allowed_dashboard_origins,
            retention_days=stored.retention_days,
            ai_model=stored.ai_model,
            ai_fallback_models=stored.ai_fallback_models,
            ai_daily_token_budget=stored.ai_daily_token_budget,
            business_hours=stored.business_hours,
            identity_verification_required=stored.identity_verification_required,
            identity_secret_set=bool(stored.identity_secret),
            identity_secret_rotated_at=stored.identity_secret_rotated_at,
            greeting=stored.greeting,
            appearance=stored.appearance,
            pre_chat_fields=stored.pre_chat_fields,
            first_response_sla_seconds=stored.first_response_sla_seconds,
        ),
    )


def get_workspace(caller: DashboardCaller) -> WorkspaceOut:
    # authenticate() has just read the workspace item with a consistent read.
    return workspace_out(caller.workspace)


def update_workspace(
    settings: WorkspaceAdminSettings, caller: DashboardCaller, patch: WorkspacePatch
) -> WorkspaceOut:
    origins = patch.allowed_dashboard_origins
    if origins and caller.azp not in {*origins, *settings.authorized_parties}:
        # The caller's own dashboard would be refused from its next request on.
        raise Conflict(
            "This list leaves out the dashboard origin you are using; include it.",
            code="dashboard_origin_lockout",
        )
    given = patch.model_fields_set - {"name"}
    changes: dict[str, Any] = {}
    for field in given:
        value = getattr(patch, field)
        if field == "appearance":
            current = caller.workspace.settings.appearance.model_dump()
            value = {**current, **value.model_dump(exclude_unset=True)}
        elif field == "business_hours" and value is not None:
            value = value.model_dump(mode="json")
        elif value is None and field not in NULLABLE_SETTINGS:  # pragma: no cover - validated
            continue
        changes[field] = value
    item = workspaces.update_settings(
        settings.workspaces_table,
        caller.workspace_id,
        changes,
        name=patch.name,
        require_identity_secret=patch.identity_verification_required is True,
    )
    # Field names only: setting values may name customers' sites.
    logger.info("workspace settings changed", extra={"fields": sorted(patch.model_fields_set)})
    count("WorkspaceSettingsChanged")
    return workspace_out(Workspace.model_validate(item))


def rotate_identity_secret(
    settings: WorkspaceAdminSettings, caller: DashboardCaller
) -> IdentitySecretOut:
    """A new identity-verification secret (256 random bits). It is returned once, here; the
    previous one stops verifying at once."""
    secret = f"{IDENTITY_SECRET_PREFIX}_{secrets.token_urlsafe(32)}"
    now = clock.iso()
    workspaces.update_settings(
        settings.workspaces_table,
        caller.workspace_id,
        {"identity_secret": secret, "identity_secret_rotated_at": now},
    )
    logger.info("identity secret rotated")
    count("IdentitySecretRotated")
    return IdentitySecretOut(identity_secret=secret, rotated_at=now)


def _key_out(item: dict[str, Any]) -> WidgetKeyOut:
    return WidgetKeyOut(
        id=item["key_id"],
        label=item["label"],
        widget_key=f"wk.{item['workspace_id']}.{item['key_id']}",
        active=not item.get("revoked_at"),
        created_at=item["created_at"],
        revoked_at=item.get("revoked_at"),
    )


def _checked_key_id(key_id: str) -> str:
    """A malformed id cannot name a key: 404, like an unknown one, without a read."""
    if not _KEY_ID.fullmatch(key_id):
        raise NotFound("Widget key not found.")
    return key_id


def list_widget_keys(
    settings: WorkspaceAdminSettings, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[WidgetKeyOut]:
    items, next_cursor = workspaces.list_widget_keys(
        settings.workspaces_table, caller.workspace_id, limit, cursor
    )
    return Page[WidgetKeyOut](items=[_key_out(i) for i in items], next_cursor=next_cursor)


def create_widget_key(
    settings: WorkspaceAdminSettings, caller: DashboardCaller, label: str
) -> WidgetKeyOut:
    key_id, _ = new_widget_key(caller.workspace_id)
    item = workspaces.create_widget_key(
        settings.workspaces_table,
        caller.workspace_id,
        key_id,
        label,
        max_active=settings.max_active_widget_keys,
    )
    logger.info("widget key created", extra={"key_id": key_id})
    count("WidgetKeyCreated")
    return _key_out(item)


def get_widget_key(
    settings: WorkspaceAdminSettings, caller: DashboardCaller, key_id: str
) -> WidgetKeyOut:
    item = workspaces.get_widget_key(
        settings.workspaces_table, caller.workspace_id, _checked_key_id(key_id)
    )
    if item is None:
        raise NotFound("Widget key not found.")
    return _key_out(item)


def revoke_widget_key(
    settings: WorkspaceAdminSettings, caller: DashboardCaller, key_id: str
) -> WidgetKeyOut:
    """Revoked at once: the widget reads the key with every request (consistent reads)."""
    item = workspaces.revoke_widget_key(
        settings.workspaces_table, caller.workspace_id, _checked_key_id(key_id)
    )
    logger.info("widget key revoked", extra={"key_id": key_id})
    count("WidgetKeyRevoked")
    return _key_out(item)
