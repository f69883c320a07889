"""Privacy daily check (ScheduleV2): overdue requests flagged (metric PrivacyRequestsOverdue),
due workspace purges started, unverified requests lapsed, stalled jobs re-enqueued, then the
retention sweep (conversations past their retention TTL that DynamoDB has not removed yet;
metrics ConversationsSwept, ItemsSwept). See yoosr.privacy.schedule and
yoosr.privacy.retention. Invoked with {"command": "replay_tombstones"} (optionally with
"workspace_id") after a backup restore, it replays the erasure tombstones; with
{"command": "retention_sweep"} it runs the sweep alone (to continue one cut short).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from yoosr import clock
from yoosr.observability import logger, metrics, tracer
from yoosr.privacy import schedule
from yoosr.settings import PrivacyScheduleSettings, get_settings

settings = get_settings(PrivacyScheduleSettings)
REPLAY = "replay_tombstones"
SWEEP = "retention_sweep"


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    command = event.get("command") if isinstance(event, dict) else None
    if command == REPLAY:
        workspace_id = event.get("workspace_id")
        report = schedule.replay_tombstones(
            settings.privacy_requests_table,
            settings.privacy_jobs_queue_url,
            clock.now(),
            str(workspace_id) if workspace_id else None,
        )
        return dict(report.__dict__)
    reserve_ms = settings.time_reserve_seconds * 1000

    def out_of_time() -> bool:
        return bool(context.get_remaining_time_in_millis() < reserve_ms)

    if command == SWEEP:
        return schedule.sweep_retention(
            settings.conversations_table,
            clock.now(),
            out_of_time,
            settings.retention_sweep_max_conversations,
        )
    report = schedule.daily(
        settings.privacy_requests_table,
        settings.privacy_jobs_queue_url,
        settings.conversations_table,
        clock.now(),
        out_of_time,
        timedelta(seconds=settings.stalled_after_seconds),
        settings.retention_sweep_max_conversations,
    )
    return dict(report.__dict__)
