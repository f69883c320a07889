"""Workspaces table: workspace settings and widget keys (same partition per workspace).

pk = {workspace id}; sk = WORKSPACE for the workspace item, WIDGETKEY#{key id} for each key.
The workspace item counts its active widget keys (`active_widget_keys`), kept in the same
transaction as every key creation and revocation, so the cap on active keys is a condition,
not a count taken beforehand.
"""

from __future__ import annotations

from typing import Any

from yoosr import clock
from yoosr.errors import ConditionFailed, Conflict, NotFound, TransactionCancelled
from yoosr.store import ddb, keys

CHECK_FAILED = "ConditionalCheckFailed"


def create_workspace(
    table: str, workspace_id: str, name: str, settings: dict[str, Any], org_id: str | None = None
) -> bool:
    """Create a workspace once; False when it already exists (provisioning is idempotent)."""
    pk, sk = keys.workspace(workspace_id)
    now = clock.iso()
    item = {
        "pk": pk,
        "sk": sk,
        "item_type": "workspace",
        "workspace_id": workspace_id,
        "name": name,
        "status": "active",
        "settings": settings,
        "org_id": org_id,
        "created_at": now,
        "updated_at": now,
        "settings_version": 0,
        "active_widget_keys": 0,
    }
    try:
        ddb.put(table, item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return False
    return True


def get_workspace(table: str, workspace_id: str) -> dict[str, Any] | None:
    return ddb.get(table, *keys.workspace(workspace_id))


def update_settings(
    table: str,
    workspace_id: str,
    settings: dict[str, Any],
    *,
    name: str | None = None,
    require_identity_secret: bool = False,
) -> dict[str, Any]:
    """Set the given settings (each a top-level field of the settings map) and bump the
    version; returns the whole updated workspace item.

    Only the named fields are written (`SET settings.<field>`), so two admins changing
    different settings at once never undo each other. Enabling identity verification is
    conditional on a secret being stored: checked in the same write, so a concurrent change
    cannot slip between a check and the update.
    """
    pk, sk = keys.workspace(workspace_id)
    names: dict[str, str] = {"#settings": "settings", "#status": "status"}
    vals: dict[str, Any] = ddb.values(now=clock.iso(), one=1, zero=0, active="active")
    assignments = [
        "updated_at = :now",
        "settings_version = if_not_exists(settings_version, :zero) + :one",
    ]
    for index, (field, value) in enumerate(sorted(settings.items())):
        names[f"#f{index}"] = field
        vals.update(ddb.values(**{f"v{index}": value}))
        assignments.append(f"#settings.#f{index} = :v{index}")
    if name is not None:
        names["#name"] = "name"
        vals.update(ddb.values(name=name))
        assignments.append("#name = :name")
    condition = "attribute_exists(pk) AND #status = :active"
    if require_identity_secret:
        names["#secret"] = "identity_secret"
        vals.update(ddb.values(string="S"))
        condition += " AND attribute_type(#settings.#secret, :string)"
    try:
        return ddb.update(
            table,
            pk,
            sk,
            "SET " + ", ".join(assignments),
            condition=condition,
            names=names,
            vals=vals,
            return_values="ALL_NEW",
        )
    except ConditionFailed as error:
        current = get_workspace(table, workspace_id)
        if current is None or current.get("status") != "active":
            raise NotFound("Workspace not found.") from error
        raise Conflict(
            "Rotate an identity secret before requiring identity verification.",
            code="identity_secret_missing",
        ) from error


def create_widget_key(
    table: str,
    workspace_id: str,
    key_id: str,
    label: str,
    *,
    max_active: int | None = None,
) -> dict[str, Any]:
    """Store a new widget key and count it on the workspace, in one transaction.

    With `max_active`, the count must be below it: the cap holds under concurrent creations.
    """
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
    ws_pk, ws_sk = keys.workspace(workspace_id)
    condition = "attribute_exists(pk)"
    vals = ddb.values(one=1)
    if max_active is not None:
        # Items written before the counter existed count as zero active keys.
        condition += " AND (attribute_not_exists(active_widget_keys) OR active_widget_keys < :max)"
        vals.update(ddb.values(max=max_active))
    try:
        ddb.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": ddb.key(ws_pk, ws_sk),
                        "UpdateExpression": "ADD active_widget_keys :one",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": vals,
                    }
                },
            ]
        )
    except TransactionCancelled as error:
        if error.reasons[1] == CHECK_FAILED:
            if error.items[1] is None:
                raise NotFound("Workspace not found.") from error
            raise Conflict(
                f"A workspace can have at most {max_active} active widget keys; revoke one first.",
                code="widget_key_limit",
            ) from error
        raise Conflict("The widget key id is already taken.") from error  # ULID collision
    return item


def get_widget_key(table: str, workspace_id: str, key_id: str) -> dict[str, Any] | None:
    return ddb.get(table, *keys.widget_key(workspace_id, key_id))


def list_widget_keys(
    table: str, workspace_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the workspace's widget keys, newest first (key ids are ULIDs)."""
    start = (
        ddb.decode_cursor(cursor, {"pk": workspace_id}, {"sk": keys.WIDGET_KEY_PREFIX})
        if cursor
        else None
    )
    items, last = ddb.query(
        table,
        "pk = :pk AND begins_with(sk, :prefix)",
        ddb.values(pk=workspace_id, prefix=keys.WIDGET_KEY_PREFIX),
        limit=limit,
        forward=False,
        start_key=start,
    )
    return items, ddb.encode_cursor(last)


def revoke_widget_key(table: str, workspace_id: str, key_id: str) -> dict[str, Any]:
    """Set `revoked_at` once and uncount the key; revoking a revoked key returns it as is
    (DELETE is idempotent). An unknown key is NotFound."""
    pk, sk = keys.widget_key(workspace_id, key_id)
    ws_pk, ws_sk = keys.workspace(workspace_id)
    now = clock.iso()
    try:
        ddb.transact(
            [
                {
                    "Update": {
                        "TableName": table,
                        "Key": ddb.key(pk, sk),
                        "UpdateExpression": "SET revoked_at = :now",
                        # Only a live key: a second revocation must not move revoked_at or
                        # uncount the key twice.
                        "ConditionExpression": "attribute_exists(pk) AND "
                        "(attribute_not_exists(revoked_at) OR attribute_type(revoked_at, :null))",
                        "ExpressionAttributeValues": ddb.values(now=now, null="NULL"),
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": ddb.key(ws_pk, ws_sk),
                        "UpdateExpression": "ADD active_widget_keys :minus_one",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": ddb.values(minus_one=-1),
                    }
                },
            ]
        )
    except TransactionCancelled as error:
        existing = error.items[0]
        if error.reasons[0] == CHECK_FAILED and existing is not None and ddb.is_live(existing):
            return existing
        raise NotFound("Widget key not found.") from error
    revoked = get_widget_key(table, workspace_id, key_id)
    if revoked is None:  # pragma: no cover - keys are never deleted
        raise NotFound("Widget key not found.")
    return revoked
