"""Workspaces table: workspace settings and widget keys (same partition per workspace)."""

from __future__ import annotations

from typing import Any

from yoosr import clock
from yoosr.errors import ConditionFailed
from yoosr.store import ddb, keys


def create_workspace(table: str, workspace_id: str, name: str, settings: dict[str, Any],
                     org_id: str | None = None) -> bool:
    """Create a workspace once; False when it already exists (provisioning is idempotent)."""
    pk, sk = keys.workspace(workspace_id)
    item = {
        "pk": pk,
        "sk": sk,
        "item_type": "workspace",
        "workspace_id": workspace_id,
        "name": name,
        "status": "active",
        "settings": settings,
        "org_id": org_id,
        "created_at": clock.iso(),
    }
    try:
        ddb.put(table, item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return False
    return True


def create_widget_key(table: str, workspace_id: str, key_id: str, label: str) -> dict[str, Any]:
    pk, sk = keys.widget_key(workspace_id, key_id)
    item = {
        "pk": pk,
        "sk": sk,
        "item_type": "widget_key",
        "workspace_id": workspace_id,
        "key_id": key_id,
        "label": label,
        "created_at": clock.iso(),
        "revoked_at": None,
    }
    ddb.put(table, item, condition="attribute_not_exists(pk)")
    return item
