"""Agent routing sweep, every minute (ScheduleV2): overdue first responses are flagged,
conversations of agents who went offline go back to their queue, and every queue with
waiting conversations is dispatched. See yoosr.routing.sweep for how work is found without
a Scan. Stops starting new work shortly before the timeout; the next minute continues.
"""

from __future__ import annotations

from typing import Any

from yoosr.observability import logger, metrics, tracer
from yoosr.routing import sweep
from yoosr.routing.dispatcher import tables_of
from yoosr.settings import AgentRoutingSweepSettings, get_settings

settings = get_settings(AgentRoutingSweepSettings)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reserve_ms = settings.time_reserve_seconds * 1000

    def out_of_time() -> bool:
        return bool(context.get_remaining_time_in_millis() < reserve_ms)

    report = sweep.sweep(tables_of(settings), settings.giveback_grace_seconds, out_of_time)
    return dict(report.__dict__)
