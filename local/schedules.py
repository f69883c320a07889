"""Events for Schedule (EventBridge rule) and ScheduleV2 (EventBridge Scheduler) triggers."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from local.template import ScheduleSource


def schedule_arn(source: ScheduleSource, stack_name: str, region: str, account_id: str) -> str:
    """The ARN of the rule or schedule SAM would create for this event."""
    name = source.name or f"{stack_name}-{source.function}{source.event_name}"
    if source.kind == "ScheduleV2":
        return f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{name}"
    return f"arn:aws:events:{region}:{account_id}:rule/{name}"


def scheduled_event(
    source: ScheduleSource,
    *,
    stack_name: str,
    region: str,
    account_id: str,
    now: float | None = None,
) -> Any:
    """The event the function receives when the schedule fires.

    A rule without Input sends EventBridge's "Scheduled Event"; with Input, the Input itself.
    Scheduler sends its Input (context attributes such as <aws.scheduler.scheduled-time>
    filled in), or an empty object when there is none.
    """
    now = time.time() if now is None else now
    at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    arn = schedule_arn(source, stack_name, region, account_id)
    if source.kind == "ScheduleV2":
        text = source.input or "{}"
        for key, value in {
            "<aws.scheduler.schedule-arn>": arn,
            "<aws.scheduler.scheduled-time>": at,
            "<aws.scheduler.execution-id>": secrets.token_hex(8),
            "<aws.scheduler.attempt-number>": "1",
        }.items():
            text = text.replace(key, value)
        return json.loads(text)
    if source.input is not None:
        return json.loads(source.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at,
        "region": region,
        "resources": [arn],
        "detail": {},
    }
