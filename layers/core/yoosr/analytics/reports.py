"""The analytics endpoints' results, read from a range's rollups (one per day or hour).

Counts are 0 for an empty range. A median, a percentile or a rate with nothing to measure (no
first responses, no ratings, no bot-handled conversations) is null: 0 would claim a figure
that does not exist. docs/metrics.md defines every figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from yoosr import clock
from yoosr.analytics import series
from yoosr.analytics.histogram import Histogram
from yoosr.analytics.ranges import DateRange
from yoosr.analytics.rollup import Rollup, merged

SATISFIED = ("4", "5")


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class Durations(_Out):
    median_seconds: int | None
    p90_seconds: int | None


class ConversationCounts(_Out):
    started: int
    bot_handled: int
    bot_resolved: int
    handed_off: int
    resolved: int
    reopened: int


class CsatFigures(_Out):
    score: float | None = Field(description="Share of ratings 4–5 among ratings, 0–1.")
    responses: int
    response_rate: float | None = Field(
        description="Ratings / conversations offered a rating, 0–1."
    )


class BotFigures(_Out):
    containment_rate: float | None = Field(description="bot_resolved / bot_handled, 0–1.")
    handoff_rate: float | None = Field(
        description="Handoffs of bot-handled conversations / bot_handled, 0–1."
    )
    time_to_handoff: Durations = Field(
        description="Bot time before a handoff (reported apart from resolution time)."
    )


class AiFigures(_Out):
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: str = Field(description="Exact decimal, US dollars.")


class PrivacyFigures(_Out):
    received: int = Field(description="Privacy requests received (created).")
    completed: int = Field(description="Requests completed (the job finished).")
    completed_on_time: int = Field(
        description="Completed at or before the due date in force (after any extension)."
    )
    overdue: int = Field(
        description="Requests the daily check found still open after their due date."
    )
    denied: int = Field(description="Requests an admin denied.")
    cancelled: int = Field(description="Requests cancelled, or lapsed unverified.")


class Overview(_Out):
    from_: str = Field(alias="from")
    to: str
    conversations: ConversationCounts
    first_response: Durations
    resolution: Durations
    csat: CsatFigures
    bot: BotFigures
    ai: AiFigures
    privacy: PrivacyFigures


class Point(_Out):
    period: str = Field(description="Local day YYYY-MM-DD or local hour YYYY-MM-DDTHH.")
    start: str = Field(description="When the period starts, ISO-8601 UTC.")
    value: int | float | str | None


class Timeseries(_Out):
    metric: str
    interval: str
    from_: str = Field(alias="from")
    to: str
    points: list[Point]


class AgentCsat(_Out):
    score: float | None
    responses: int


class AgentRow(_Out):
    agent_id: str
    messages: int
    conversations_handled: int
    assigned: int
    resolved: int
    first_response: Durations
    resolution: Durations
    csat: AgentCsat


class AgentsReport(_Out):
    from_: str = Field(alias="from")
    to: str
    items: list[AgentRow]


class Latency(_Out):
    median_ms: int | None
    p90_ms: int | None


class ModelUsage(_Out):
    model: str
    calls: int
    answers: int
    no_answers: int
    failures: int
    failures_by_kind: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: str
    latency: Latency


class AiUsageReport(_Out):
    from_: str = Field(alias="from")
    to: str
    totals: AiFigures
    items: list[ModelUsage]


# ---------------------------------------------------------------- figures


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _rounded(value: float | None) -> int | None:
    return round(value) if value is not None else None


def _durations(histogram: Histogram) -> Durations:
    return Durations(
        median_seconds=_rounded(histogram.quantile(0.5)),
        p90_seconds=_rounded(histogram.quantile(0.9)),
    )


def usd(nano_usd: int) -> str:
    """Billionths of a dollar as an exact decimal string ("0.0027")."""
    return format(Decimal(nano_usd).scaleb(-9).normalize(), "f")


def _satisfied(rollup: Rollup, **match: str) -> int:
    return sum(rollup.counter(series.CSAT_RESPONSES.name, rating=r, **match) for r in SATISFIED)


def _ai(rollup: Rollup, **match: str) -> AiFigures:
    return AiFigures(
        calls=rollup.counter(series.AI_CALLS.name, **match),
        failures=rollup.counter(series.AI_CALLS.name, outcome="failure", **match),
        prompt_tokens=rollup.counter(series.AI_PROMPT_TOKENS.name, **match),
        completion_tokens=rollup.counter(series.AI_COMPLETION_TOKENS.name, **match),
        cost_usd=usd(rollup.counter(series.AI_COST.name, **match)),
    )


def _overview(rollup: Rollup, start: str, end: str) -> Overview:
    bot_handled = rollup.counter(series.BOT_HANDLED.name)
    responses = rollup.counter(series.CSAT_RESPONSES.name)
    return Overview(
        from_=start,
        to=end,
        conversations=ConversationCounts(
            started=rollup.counter(series.STARTED.name),
            bot_handled=bot_handled,
            bot_resolved=rollup.counter(series.BOT_RESOLVED.name),
            handed_off=rollup.counter(series.HANDED_OFF.name),
            resolved=rollup.counter(series.RESOLVED.name),
            reopened=rollup.counter(series.REOPENED.name),
        ),
        first_response=_durations(rollup.histogram(series.FIRST_RESPONSE.name)),
        resolution=_durations(rollup.histogram(series.RESOLUTION.name)),
        csat=CsatFigures(
            score=_rate(_satisfied(rollup), responses),
            responses=responses,
            response_rate=_rate(responses, rollup.counter(series.CSAT_OFFERED.name)),
        ),
        bot=BotFigures(
            containment_rate=_rate(rollup.counter(series.BOT_RESOLVED.name), bot_handled),
            handoff_rate=_rate(rollup.counter(series.BOT_HANDED_OFF.name), bot_handled),
            time_to_handoff=_durations(rollup.histogram(series.BOT_TIME_TO_HANDOFF.name)),
        ),
        ai=_ai(rollup),
        privacy=PrivacyFigures(
            received=rollup.counter(series.PRIVACY_RECEIVED.name),
            completed=rollup.counter(series.PRIVACY_COMPLETED.name),
            completed_on_time=rollup.counter(series.PRIVACY_COMPLETED.name, on_time="yes"),
            overdue=rollup.counter(series.PRIVACY_OVERDUE.name),
            denied=rollup.counter(series.PRIVACY_DENIED.name),
            cancelled=rollup.counter(series.PRIVACY_CANCELLED.name),
        ),
    )


def _in_range(rollups: Iterable[Rollup], date_range: DateRange) -> list[Rollup]:
    first, last = date_range.start.isoformat(), date_range.end.isoformat()
    return [rollup for rollup in rollups if first <= rollup.period[:10] <= last]


def _total(
    rollups: Iterable[Rollup], date_range: DateRange, department_id: str | None = None
) -> Rollup:
    selected = _in_range(rollups, date_range)
    if department_id is not None:
        selected = [rollup.for_department(department_id) for rollup in selected]
    workspace_id = selected[0].workspace_id if selected else ""
    return merged(selected, workspace_id, date_range.start.isoformat())


def overview(
    rollups: Iterable[Rollup], date_range: DateRange, department_id: str | None = None
) -> Overview:
    """The range's figures from its day rollups (hour rollups give the same result)."""
    total = _total(rollups, date_range, department_id)
    return _overview(total, date_range.start.isoformat(), date_range.end.isoformat())


def value_at(result: BaseModel, path: str) -> Any:
    """A dotted path's value in a result (`conversations.started`, `csat.score` …)."""
    value: Any = result.model_dump(by_alias=True)
    for part in path.split("."):
        value = value[part]
    return value


def timeseries(
    rollups: Iterable[Rollup],
    metric: str,
    date_range: DateRange,
    now: datetime,
    department_id: str | None = None,
) -> Timeseries:
    """One point per day or hour of the range (rollups of that granularity), up to now; a
    period without a rollup is a point of zeros."""
    by_period: dict[str, Rollup] = {}
    for rollup in _in_range(rollups, date_range):
        if rollup.granularity == date_range.interval:
            selected = rollup.for_department(department_id) if department_id else rollup
            slot = by_period.setdefault(rollup.period, Rollup(rollup.workspace_id, rollup.period))
            slot.merge(selected)
    points = []
    for period in date_range.periods(until=now):
        rollup = by_period.get(period) or Rollup("", period)
        figures = _overview(rollup, period, period)
        points.append(
            Point(
                period=period,
                start=clock.iso(date_range.period_start(period)),
                value=value_at(figures, metric),
            )
        )
    return Timeseries(
        metric=metric,
        interval=date_range.interval,
        from_=date_range.start.isoformat(),
        to=date_range.end.isoformat(),
        points=points,
    )


def agents(rollups: Iterable[Rollup], date_range: DateRange) -> AgentsReport:
    """Per agent who did anything in the range, ordered by agent id."""
    total = _total(rollups, date_range)
    agent = "agent_id"
    messages = total.counters_by(series.AGENT_MESSAGES.name, agent)
    handled = total.counters_by(series.AGENT_HANDLED.name, agent)
    assigned = total.counters_by(series.AGENT_ASSIGNED.name, agent)
    resolved = total.counters_by(series.RESOLVED.name, agent)
    responses = total.counters_by(series.CSAT_RESPONSES.name, agent)
    satisfied = {
        rating: total.counters_by(series.CSAT_RESPONSES.name, agent, rating=rating)
        for rating in SATISFIED
    }
    first_response = total.histograms_by(series.FIRST_RESPONSE.name, agent)
    resolution = total.histograms_by(series.RESOLUTION.name, agent)
    ids = {*messages, *handled, *assigned, *resolved, *responses, *first_response, *resolution}
    ids.discard(series.NONE)
    items = [
        AgentRow(
            agent_id=agent_id,
            messages=messages.get(agent_id, 0),
            conversations_handled=handled.get(agent_id, 0),
            assigned=assigned.get(agent_id, 0),
            resolved=resolved.get(agent_id, 0),
            first_response=_durations(first_response.get(agent_id, Histogram())),
            resolution=_durations(resolution.get(agent_id, Histogram())),
            csat=AgentCsat(
                score=_rate(
                    sum(by_agent.get(agent_id, 0) for by_agent in satisfied.values()),
                    responses.get(agent_id, 0),
                ),
                responses=responses.get(agent_id, 0),
            ),
        )
        for agent_id in sorted(ids)
    ]
    return AgentsReport(
        from_=date_range.start.isoformat(), to=date_range.end.isoformat(), items=items
    )


def ai_usage(rollups: Iterable[Rollup], date_range: DateRange) -> AiUsageReport:
    """Per model the bot called in the range, ordered by model id, and the totals."""
    total = _total(rollups, date_range)
    calls = total.counters_by(series.AI_CALLS.name, "model")
    latency = total.histograms_by(series.AI_LATENCY.name, "model")
    items = []
    for model in sorted(calls):
        figures = _ai(total, model=model)
        by_kind = total.counters_by(
            series.AI_CALLS.name, "failure_kind", model=model, outcome="failure"
        )
        histogram = latency.get(model, Histogram())
        items.append(
            ModelUsage(
                model=model,
                calls=figures.calls,
                answers=total.counter(series.AI_CALLS.name, model=model, outcome="answer"),
                no_answers=total.counter(series.AI_CALLS.name, model=model, outcome="no_answer"),
                failures=figures.failures,
                failures_by_kind=dict(sorted(by_kind.items())),
                prompt_tokens=figures.prompt_tokens,
                completion_tokens=figures.completion_tokens,
                cost_usd=figures.cost_usd,
                latency=Latency(
                    median_ms=_rounded(histogram.quantile(0.5)),
                    p90_ms=_rounded(histogram.quantile(0.9)),
                ),
            )
        )
    return AiUsageReport(
        from_=date_range.start.isoformat(),
        to=date_range.end.isoformat(),
        totals=_ai(total),
        items=items,
    )
