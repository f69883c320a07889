"""Agents (dashboard users of a workspace) on the Workspaces table: role, departments,
capacity, presence and load.

    pk = {workspace_id}   sk = AGENT#{Clerk user id}

The agent item, as every function may read it:

    item_type            "agent"
    workspace_id, user_id
    role                 "admin" | "agent" (from the Clerk token; refreshed on a change)
    departments          [department_id, ...]   a list, possibly empty; each id exists
    team_version         int, bumped by every change of departments/capacity (optimistic lock;
                         absent means 0)
    capacity             int 0..50: open conversations the agent may hold at once
    status               "online" | "away" | "offline" as last sent by the agent
    presence_expires_at  int epoch seconds | None: when the last heartbeat lapses. NOT the TTL
                         attribute. The effective presence is status if presence_expires_at >
                         now, else "offline" (yoosr.team.rules.effective_status): an abandoned
                         dashboard goes offline with no write at all.
    last_heartbeat_at    ISO-8601 str | None
    open_count           int: open conversations assigned to the agent. Written ONLY with ADD
                         by the assignment engine's conditional writes; nothing else sets it.
    last_assigned_at     ISO-8601 str | None, set by the dispatcher (least-busy tie break)
    created_at, updated_at

An agent can take a conversation when effective presence is "online" and open_count <
capacity (capacity may be lowered below open_count: the agent then just gets no new ones).
"""

from __future__ import annotations

from typing import Any

from yoosr.errors import ConditionFailed, NotFound, TransactionCancelled, ValidationFailed
from yoosr.store import ddb, keys, team
from yoosr.team.rules import effective_status

AGENT_PREFIX = "AGENT#"
DEFAULT_CAPACITY = 5
_FAILED = "ConditionalCheckFailed"


def ensure(table: str, workspace_id: str, user_id: str, role: str, now: str) -> None:
    """Register a user on their first authenticated call, or update a changed role; presence,
    capacity and load are never reset by this."""
    pk, sk = keys.agent(workspace_id, user_id)
    ddb.update(
        table,
        pk,
        sk,
        "SET #role = :role, workspace_id = :ws, user_id = :user, item_type = :type, "
        "created_at = if_not_exists(created_at, :now), "
        "#capacity = if_not_exists(#capacity, :capacity), "
        "departments = if_not_exists(departments, :none), "
        "open_count = if_not_exists(open_count, :zero), "
        "#status = if_not_exists(#status, :offline)",
        # CAPACITY is a DynamoDB reserved word, like ROLE and STATUS.
        names={"#role": "role", "#status": "status", "#capacity": "capacity"},
        vals=ddb.values(
            role=role,
            ws=workspace_id,
            user=user_id,
            type="agent",
            now=now,
            capacity=DEFAULT_CAPACITY,
            none=[],
            zero=0,
            offline="offline",
        ),
    )


def get(table: str, workspace_id: str, user_id: str) -> dict[str, Any] | None:
    return ddb.get(table, *keys.agent(workspace_id, user_id))


def page(
    table: str, workspace_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return team.page(table, workspace_id, AGENT_PREFIX, limit, cursor)


def set_presence(
    table: str,
    workspace_id: str,
    user_id: str,
    status: str,
    presence_expires_at: int | None,
    now: str,
) -> dict[str, Any]:
    """Record a status (the heartbeat) and return the agent as it was before."""
    pk, sk = keys.agent(workspace_id, user_id)
    try:
        return ddb.update(
            table,
            pk,
            sk,
            "SET #status = :status, presence_expires_at = :expires, last_heartbeat_at = :now",
            # The caller was registered on this request; never create a bare agent item.
            condition="attribute_exists(pk)",
            names={"#status": "status"},
            vals=ddb.values(status=status, expires=presence_expires_at, now=now),
            return_values="ALL_OLD",
        )
    except ConditionFailed as error:
        raise NotFound("Agent not found.") from error


def set_team(
    table: str,
    agent: dict[str, Any],
    *,
    departments: list[str],
    capacity: int,
    added: list[str],
    removed: list[str],
    now: str,
) -> None:
    """Set the agent's departments and capacity, and move department member counts, at once.

    Raises ConditionFailed when the agent changed since `agent` was read (the caller reads
    again and retries), ValidationFailed when an added department no longer exists.
    """
    ws, user_id = agent["workspace_id"], agent["user_id"]
    version = int(agent.get("team_version", 0))
    # Optimistic lock: two admins editing one agent must not lose a department change (and
    # with it the member counts) to a last-writer-wins overwrite of the list.
    condition = "attribute_exists(pk) AND " + (
        "attribute_not_exists(team_version)" if version == 0 else "team_version = :version"
    )
    vals = ddb.values(departments=departments, capacity=capacity, next=version + 1, now=now)
    if version:
        vals.update(ddb.values(version=version))
    expression = (
        "SET departments = :departments, #capacity = :capacity, team_version = :next, "
        "updated_at = :now"
    )
    names = {"#capacity": "capacity"}
    pk, sk = keys.agent(ws, user_id)
    if not added and not removed:
        ddb.update(table, pk, sk, expression, condition=condition, names=names, vals=vals)
        return
    actions = [
        {
            "Update": {
                "TableName": table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": vals,
            }
        },
        *team.membership_actions(table, ws, added, removed),
    ]
    try:
        ddb.transact(actions)
    except TransactionCancelled as cancelled:
        if cancelled.reasons[0] == _FAILED:
            raise ConditionFailed from cancelled
        gone = [
            d for d, reason in zip(added, cancelled.reasons[1:], strict=False) if reason == _FAILED
        ]
        if gone:
            raise ValidationFailed(
                details=[
                    {
                        "field": "departments",
                        "message": f"unknown department {d}",
                        "type": "unknown_department",
                    }
                    for d in gone
                ]
            ) from cancelled
        raise ConditionFailed from cancelled


def any_online(table: str, workspace_id: str, now: int) -> bool:
    """Whether some agent's effective presence is online (pages until one is found)."""
    cursor: str | None = None
    while True:
        items, cursor = page(table, workspace_id, 100, cursor)
        if any(
            effective_status(item.get("status"), item.get("presence_expires_at"), now) == "online"
            for item in items
        ):
            return True
        if cursor is None:
            return False
