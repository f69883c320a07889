"""Privacy daily check (ScheduleV2): overdue requests flagged (metric PrivacyRequestsOverdue),
due workspace purges started, unverified requests lapsed, stalled jobs re-enqueued. See
yoosr.privacy.schedule. Invoked with {"command": "replay_tombstones"} (optionally with
"workspace_id") after a backup restore, it replays the erasure tombstones.
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


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("command") == REPLAY:
        workspace_id = event.get("workspace_id")
        report = schedule.replay_tombstones(
            settings.privacy_requests_table,
            settings.privacy_jobs_queue_url,
            clock.now(),
            str(workspace_id) if workspace_id else None,
        )
        return dict(report.__dict__)
    reserve_ms = settings.time_reserve_seconds * 1000
    report = schedule.check(
        settings.privacy_requests_table,
        settings.privacy_jobs_queue_url,
        clock.now(),
        lambda: bool(context.get_remaining_time_in_millis() < reserve_ms),
        timedelta(seconds=settings.stalled_after_seconds),
    )
    return dict(report.__dict__)
