"""Creating workspaces and widget keys (the local stack's seed, tests, and later the admin API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yoosr import ids
from yoosr.models.workspace import WorkspaceSettings
from yoosr.store import workspaces
from yoosr.widget.auth import new_widget_key


@dataclass(frozen=True)
class ProvisionedWorkspace:
    workspace_id: str
    created: bool


def provision_workspace(
    table: str, org_id: str, name: str, settings: dict[str, Any] | None = None
) -> ProvisionedWorkspace:
    """The workspace of a Clerk organization, created once (idempotent by construction)."""
    workspace_id = ids.workspace_id_for_org(org_id)
    validated = WorkspaceSettings.model_validate(settings or {}).model_dump(mode="json")
    created = workspaces.create_workspace(table, workspace_id, name, validated, org_id=org_id)
    return ProvisionedWorkspace(workspace_id, created)


def issue_widget_key(table: str, workspace_id: str, label: str = "default") -> str:
    key_id, public_key = new_widget_key(workspace_id)
    workspaces.create_widget_key(table, workspace_id, key_id, label)
    return public_key
