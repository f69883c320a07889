"""Rebuild one workspace's rollups from its stored conversations (scripts/backfill_analytics.py),
so a fixed formula, a changed time zone or a lost rollup applies to history.

Conversations are listed from the by_status index (never a Scan), each partition is read with
one Query (the conversation, its messages and its transition records), its stream is replayed
(history.py) through today's `events.increments` into an in-memory RollupBook, and the result
replaces the workspace's rollup items (store/analytics.py `replace`).

Privacy requests are listed from PrivacyRequestsTable's by_list index ({ws}#REQUESTS, never a
Scan); each request's audit events (one Query of its partition, `AUDIT#`) go through the same
`events.privacy_event` and `privacy_increments` as the live consumer reads from the stream.

What it cannot see is left out: conversations erased or expired since. Events the live
consumer counts while a backfill runs may be overwritten by it; run it when a workspace is
quiet, or run it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoosr.analytics import events, history
from yoosr.analytics.consumer import workspace_timezone
from yoosr.analytics.rollup import RollupBook
from yoosr.store import analytics as analytics_store
from yoosr.store import conversations, privacy_requests

_PAGE = 100


@dataclass(frozen=True)
class Rebuilt:
    workspace_id: str
    timezone: str
    conversations: int
    privacy_requests: int
    increments: int
    items_written: int
    items_deleted: int


def _privacy(table: str, workspace_id: str, zone: str, book: RollupBook) -> tuple[int, int]:
    """Replay the workspace's privacy requests' audit events: (requests, increments)."""
    seen = applied = 0
    cursor: str | None = None
    while True:
        page, cursor = privacy_requests.list_requests(table, workspace_id, _PAGE, cursor)
        for stored in page:
            request = stored.request
            seen += 1
            keys: set[str] = set()
            audit = privacy_requests.partition(
                table, workspace_id, request.request_id, privacy_requests.AUDIT_PREFIX
            )
            for item in audit:
                # Audit events written before they carried their deadline: the request's
                # (a deadline only moves while the request is open, so it is the one in force).
                event = events.privacy_event(item, due_at=request.due_at)
                if event is not None:
                    applied += book.apply(events.privacy_increments(event, zone), keys)
        if not cursor:
            return seen, applied


def rebuild(
    workspaces_table: str,
    conversations_table: str,
    analytics_table: str,
    workspace_id: str,
    privacy_requests_table: str,
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
    requests, privacy_applied = _privacy(privacy_requests_table, workspace_id, zone, book)
    replaced = analytics_store.replace(
        analytics_table,
        workspace_id,
        [r for (ws, _), r in book.rollups.items() if ws == workspace_id],
    )
    return Rebuilt(
        workspace_id,
        zone,
        seen,
        requests,
        applied + privacy_applied,
        replaced.written,
        replaced.deleted,
    )
