"""Ephemeral table: widget sessions and rate-limit windows. Everything here has a TTL."""

from __future__ import annotations

from typing import Any

from yoosr import clock
from yoosr.store import ddb, keys


def session_item(
    workspace_id: str, token_digest: str, visitor_id: str, expires_at: int
) -> dict[str, Any]:
    pk, sk = keys.session(workspace_id, token_digest)
    return {
        "pk": pk,
        "sk": sk,
        "item_type": "session",
        "workspace_id": workspace_id,
        "visitor_id": visitor_id,
        "created_at": clock.iso(),
        "expires_at": expires_at,
    }


SESSION_MARKER_PREFIX = "SESSION#"


def session_marker_key(workspace_id: str, visitor_id: str, token_digest: str) -> tuple[str, str]:
    """A visitor's sessions are found through these markers (an erasure revokes them all)."""
    return keys.visitor_pk(workspace_id, visitor_id), SESSION_MARKER_PREFIX + token_digest


def put_session(table: str, item: dict[str, Any]) -> None:
    """The session and its marker under the visitor's key, in one transaction: a session that
    exists is always findable from its visitor (privacy erasure revokes every one)."""
    pk, sk = session_marker_key(
        item["workspace_id"], item["visitor_id"], item["pk"].rsplit("#", 1)[-1]
    )
    marker = {
        "pk": pk,
        "sk": sk,
        "item_type": "session_marker",
        "expires_at": item["expires_at"],
    }
    # A 256-bit token cannot collide; the condition guards against a replay overwriting one.
    ddb.transact(
        [
            {
                "Put": {
                    "TableName": table,
                    "Item": ddb.to_av(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": table, "Item": ddb.to_av(marker)}},
        ]
    )


def count_hit(
    table: str, workspace_id: str, dimension: str, subject: str, window: int
) -> tuple[int, int]:
    """Count one request in the current fixed window; returns (hits so far, seconds left).

    ADD without a condition: one write whatever the count, and the caller compares. The window
    item outlives its window by one period so a late read never resurrects an old count.
    """
    now = clock.epoch()
    start = now - now % window
    pk, sk = keys.rate_window(workspace_id, dimension, subject, start)
    attrs = ddb.update(
        table,
        pk,
        sk,
        "ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
        vals=ddb.values(one=1, expires=start + 2 * window),
        return_values="UPDATED_NEW",
    )
    return int(attrs["hits"]), start + window - now
