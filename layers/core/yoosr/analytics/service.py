"""The analytics endpoints' use cases: validate the range in the workspace's time zone, read
its rollups (one Query), compute the result (reports.py), and render CSV when asked.

Each takes the settings, the authenticated caller and the raw query values, so every bad
value is a 400 `invalid_query` naming the parameter (ranges.py) and never a 5xx. The
workspace is the caller's, so another workspace's figures can never be read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from yoosr import clock
from yoosr.analytics import csv, ranges, reports, series
from yoosr.analytics.ranges import DateRange
from yoosr.analytics.rollup import Rollup
from yoosr.dashboard.access import DashboardCaller
from yoosr.settings import AnalyticsSettings
from yoosr.store import analytics as analytics_store


@dataclass(frozen=True)
class Csv:
    """A CSV rendering of a result: the body and its download name."""

    text: str
    filename: str


def _range(
    caller: DashboardCaller, from_: str | None, to: str | None, interval: str | None = None
) -> DateRange:
    zone = series.workspace_timezone(caller.workspace.settings)
    today = ranges.local_today(clock.now(), zone)
    return ranges.parse_range(from_, to, timezone=zone, today=today, interval=interval)


def _rollups(
    settings: AnalyticsSettings, caller: DashboardCaller, date_range: DateRange
) -> list[Rollup]:
    """The range's day rollups, or its hour rollups for an hourly series."""
    return analytics_store.read(
        settings.analytics_table,
        caller.workspace_id,
        date_range.first_period(),
        date_range.last_period(),
    )


@dataclass(frozen=True)
class Query:
    """The raw query values every analytics route shares."""

    from_: str | None = None
    to: str | None = None
    format: str | None = None
    accept: str | None = None
    department_id: str | None = None


Result = TypeVar("Result", bound=BaseModel)


def _report(
    settings: AnalyticsSettings,
    caller: DashboardCaller,
    query: Query,
    endpoint: csv.Endpoint,
    compute: Callable[[list[Rollup], DateRange], Result],
    render: Callable[[Result], str],
    interval: str | None = None,
) -> Result | Csv:
    wanted = csv.wants_csv(query.format, query.accept)
    date_range = _range(caller, query.from_, query.to, interval)
    result = compute(_rollups(settings, caller, date_range), date_range)
    if not wanted:
        return result
    first, last = date_range.start.isoformat(), date_range.end.isoformat()
    return Csv(render(result), csv.filename(endpoint, first, last))


def overview(
    settings: AnalyticsSettings, caller: DashboardCaller, query: Query
) -> reports.Overview | Csv:
    def compute(rollups: list[Rollup], date_range: DateRange) -> reports.Overview:
        return reports.overview(rollups, date_range, query.department_id)

    return _report(settings, caller, query, "overview", compute, csv.overview)


def timeseries(
    settings: AnalyticsSettings,
    caller: DashboardCaller,
    query: Query,
    metric: str | None,
    interval: str | None,
) -> reports.Timeseries | Csv:
    name = ranges.parse_metric(metric)

    def compute(rollups: list[Rollup], date_range: DateRange) -> reports.Timeseries:
        return reports.timeseries(rollups, name, date_range, clock.now(), query.department_id)

    return _report(settings, caller, query, "timeseries", compute, csv.timeseries, interval)


def agents(
    settings: AnalyticsSettings, caller: DashboardCaller, query: Query
) -> reports.AgentsReport | Csv:
    return _report(settings, caller, query, "agents", reports.agents, csv.agents)


def ai_usage(
    settings: AnalyticsSettings, caller: DashboardCaller, query: Query
) -> reports.AiUsageReport | Csv:
    return _report(settings, caller, query, "ai-usage", reports.ai_usage, csv.ai_usage)
