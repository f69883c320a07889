"""Rebuild one workspace's rollups from its stored conversations (scripts/backfill_analytics.py),
so a fixed formula, a changed time zone or a lost rollup applies to history.

Conversations are listed from the by_status index (never a Scan), each partition is read with
one Query (the conversation, its messages and its transition records), its stream is replayed
(history.py) through today's `events.increments` into an in-memory RollupBook, and the result
replaces the workspace's rollup items (store/analytics.py `replace`).

What it cannot see is left out: conversations erased or expired since, and privacy requests
(their events do not live in the Conversations table). Events the live consumer counts while a
backfill runs may be overwritten by it; run it when a workspace is quiet, or run it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoosr.analytics import events, history
from yoosr.analytics.consumer import workspace_timezone
from yoosr.analytics.rollup import RollupBook
from yoosr.store import analytics as analytics_store
from yoosr.store import conversations


@dataclass(frozen=True)
class Rebuilt:
    workspace_id: str
    timezone: str
    conversations: int
    increments: int
    items_written: int
    items_deleted: int


def rebuild(
    workspaces_table: str, conversations_table: str, analytics_table: str, workspace_id: str
) -> Rebuilt:
    zone = workspace_timezone(workspaces_table, workspace_id, max_age_seconds=0)
    book = RollupBook()
    seen = applied = 0
    for conversation_id in conversations.workspace_conversation_ids(
        conversations_table, workspace_id
    ):
        items = conversations.partition(conversations_table, workspace_id, conversation_id)
        conversation = next((i for i in items if i.get("item_type") == "conversation"), None)
        if conversation is None:  # erased or expired between the listing and the read
            continue
        seen += 1
        # Keys are per conversation: a set per conversation keeps memory flat.
        keys: set[str] = set()
        for change in history.replay(conversation, items):
            applied += book.apply(events.increments(change, zone), keys)
    replaced = analytics_store.replace(
        analytics_table,
        workspace_id,
        [r for (ws, _), r in book.rollups.items() if ws == workspace_id],
    )
    return Rebuilt(workspace_id, zone, seen, applied, replaced.written, replaced.deleted)
