"""Analytics query parameters: date ranges, intervals, metric names.

Dates are YYYY-MM-DD in the workspace's time zone, both ends inclusive. `from` ≤ `to`, at most
MAX_DAYS days, at most MAX_HOUR_DAYS days by the hour. A `to` in the future is accepted (the
figures stop at now). Anything else is a 400 (BadRequest) whose details name the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast

from yoosr.analytics import series
from yoosr.errors import BadRequest

Interval = Literal["day", "hour"]
MAX_DAYS = 400
MAX_HOUR_DAYS = 31
DEFAULT_DAYS = 30
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

TIMESERIES_METRICS = (
    "conversations.started",
    "conversations.bot_handled",
    "conversations.bot_resolved",
    "conversations.handed_off",
    "conversations.resolved",
    "conversations.reopened",
    "first_response.median_seconds",
    "first_response.p90_seconds",
    "resolution.median_seconds",
    "resolution.p90_seconds",
    "csat.score",
    "csat.responses",
    "csat.response_rate",
    "bot.containment_rate",
    "bot.handoff_rate",
    "bot.time_to_handoff.median_seconds",
    "bot.time_to_handoff.p90_seconds",
    "ai.calls",
    "ai.failures",
    "ai.prompt_tokens",
    "ai.completion_tokens",
    "ai.cost_usd",
    "privacy.received",
    "privacy.completed",
    "privacy.completed_on_time",
    "privacy.overdue",
    "privacy.denied",
    "privacy.cancelled",
)
"""The overview's dotted paths (every leaf but `from` and `to`)."""


def _bad(field: str, message: str, kind: str) -> BadRequest:
    return BadRequest(
        message,
        code="invalid_query",
        details=[{"field": field, "message": message, "type": kind}],
    )


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
    timezone: str
    interval: Interval = "day"

    @property
    def day_count(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.day_count)]

    def first_period(self) -> str:
        return self.start.isoformat() if self.interval == "day" else f"{self.start}T00"

    def last_period(self) -> str:
        return self.end.isoformat() if self.interval == "day" else f"{self.end}T23"

    def periods(self, until: datetime | None = None) -> list[str]:
        """The range's days (YYYY-MM-DD) or local hours (YYYY-MM-DDTHH) in order, none after
        `until`. Local hours a DST change skips are left out; a repeated hour is one period."""
        result = []
        for day in self.days():
            if self.interval == "day":
                if until is None or self.period_start(day.isoformat()) <= until:
                    result.append(day.isoformat())
                continue
            for hour in range(24):
                period = f"{day}T{hour:02d}"
                start = self.period_start(period)
                if start.astimezone(series.zone(self.timezone)).hour != hour:
                    continue  # skipped by a spring-forward change
                if until is None or start <= until:
                    result.append(period)
        return result

    def period_start(self, period: str) -> datetime:
        """When a local day or hour starts, in UTC."""
        day = date.fromisoformat(period[:10])
        hour = int(period[11:13]) if len(period) > 10 else 0
        local = datetime(day.year, day.month, day.day, hour, tzinfo=series.zone(self.timezone))
        return local.astimezone(UTC)


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(series.zone(timezone)).date()


def parse_date(value: str, field: str) -> date:
    if not _DATE.match(value):
        raise _bad(field, f"{field} must be a date YYYY-MM-DD", "invalid_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(field, f"{field} is not a calendar date", "invalid_date") from None


def parse_interval(value: str | None) -> Interval:
    if value is None or value == "":
        return "day"
    if value not in ("day", "hour"):
        raise _bad("interval", "interval must be 'day' or 'hour'", "invalid_interval")
    return cast(Interval, value)


def parse_range(
    from_: str | None,
    to: str | None,
    *,
    timezone: str,
    today: date,
    interval: str | None = None,
) -> DateRange:
    """Validate `from`, `to` and `interval`. Without `to` the range ends today (local); without
    `from` it covers DEFAULT_DAYS days up to `to`."""
    step = parse_interval(interval)
    end = parse_date(to, "to") if to else today
    start = parse_date(from_, "from") if from_ else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise _bad("from", "from must not be after to", "invalid_range")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise _bad("to", f"a range covers at most {MAX_DAYS} days", "range_too_long")
    if step == "hour" and days > MAX_HOUR_DAYS:
        raise _bad(
            "interval", f"hourly figures cover at most {MAX_HOUR_DAYS} days", "range_too_long"
        )
    return DateRange(start, end, timezone, step)


def parse_metric(value: str | None) -> str:
    if not value:
        raise _bad("metric", "metric is required", "missing")
    if value not in TIMESERIES_METRICS:
        raise _bad("metric", f"unknown metric {value!r}", "unknown_metric")
    return value
