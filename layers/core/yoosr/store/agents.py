"""Agents (dashboard users of a workspace) on the Workspaces table: role, departments,
capacity, presence and load. pk = {ws}, sk = AGENT#{Clerk user id}."""

from __future__ import annotations

from typing import Any

from yoosr.store import ddb, keys

DEFAULT_CAPACITY = 5


def ensure(table: str, workspace_id: str, user_id: str, role: str, now: str) -> None:
    """Register a user on their first authenticated call, or update a changed role; presence,
    capacity and load are never reset by this."""
    pk, sk = keys.agent(workspace_id, user_id)
    ddb.update(
        table, pk, sk,
        "SET #role = :role, workspace_id = :ws, user_id = :user, item_type = :type, "
        "created_at = if_not_exists(created_at, :now), "
        "capacity = if_not_exists(capacity, :capacity), "
        "departments = if_not_exists(departments, :none), "
        "open_count = if_not_exists(open_count, :zero), "
        "#status = if_not_exists(#status, :offline)",
        names={"#role": "role", "#status": "status"},
        vals=ddb.values(role=role, ws=workspace_id, user=user_id, type="agent", now=now,
                        capacity=DEFAULT_CAPACITY, none=[], zero=0, offline="offline"),
    )


def get(table: str, workspace_id: str, user_id: str) -> dict[str, Any] | None:
    return ddb.get(table, *keys.agent(workspace_id, user_id))
