"""The analytics consumer's use case: one stream record (Conversations, or a privacy audit event
from PrivacyRequestsTable) → increments → rollups, each event counted once
(store/analytics.py). The handler only adapts the Lambda record.

The workspace's time zone decides which local day and hour an increment lands on. It is read
once per workspace and kept for a few minutes per container, so a busy stream costs no read
per record; a changed time zone applies from then on (the backfill re-days history).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from yoosr import clock
from yoosr.analytics import events, series
from yoosr.analytics.events import EventName, StreamChange
from yoosr.models.workspace import Workspace
from yoosr.settings import AnalyticsEventsSettings
from yoosr.store import analytics as analytics_store
from yoosr.store import workspaces

_zones: dict[str, tuple[str, int]] = {}


def workspace_timezone(table: str, workspace_id: str, max_age_seconds: int) -> str:
    """The workspace's IANA time zone (business hours, else UTC), cached per container."""
    now = clock.epoch()
    cached = _zones.get(workspace_id)
    if cached is not None and now - cached[1] < max_age_seconds:
        return cached[0]
    item = workspaces.get_workspace(table, workspace_id)
    zone = series.workspace_timezone(Workspace.model_validate(item).settings) if item else "UTC"
    _zones[workspace_id] = (zone, now)
    return zone


def forget_timezones() -> None:
    """Drop the cache (tests: a workspace's settings changed in the same process)."""
    _zones.clear()


def change_of(
    event_name: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    approximate_epoch: int | None,
) -> StreamChange:
    """A stream record's parts as the core reads them (a missing image is None)."""
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"not a DynamoDB stream event: {event_name!r}")
    at = (
        datetime.fromtimestamp(approximate_epoch, tz=UTC)
        if approximate_epoch is not None
        else clock.now()
    )
    return StreamChange(cast(EventName, event_name), old or None, new or None, at)


def record(settings: AnalyticsEventsSettings, change: StreamChange) -> analytics_store.Counted:
    """Count one record; a redelivered one counts nothing (its events' markers exist)."""
    image = change.new or change.old or {}
    workspace_id = image.get("workspace_id")
    if not workspace_id:
        return analytics_store.Counted(0, 0)
    zone = workspace_timezone(
        settings.workspaces_table, str(workspace_id), settings.timezone_cache_seconds
    )
    increments = events.increments(change, zone)
    if not increments:
        return analytics_store.Counted(0, 0)
    return analytics_store.count(
        settings.analytics_table, increments, settings.dedupe_marker_seconds
    )
