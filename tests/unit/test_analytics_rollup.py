"""Rollups: applying and merging increments, their DynamoDB item form, and the reports read
from them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from yoosr.analytics import reports, rollup, series
from yoosr.analytics.events import Increment
from yoosr.analytics.histogram import Histogram, bucket_of
from yoosr.analytics.ranges import TIMESERIES_METRICS, DateRange
from yoosr.analytics.rollup import Rollup, RollupBook

WS = "ws_1"


def inc(
    metric: series.Metric,
    day: str = "2025-06-10",
    hour: int = 9,
    amount: int = 1,
    observation: float | None = None,
    key: str | None = None,
    **dims: str | None,
) -> Increment:
    return Increment(
        workspace_id=WS,
        metric=metric.name,
        dimensions=series.dimensions(metric, **dims),
        day=day,
        hour=hour,
        dedupe_key=key or f"{metric.name}#{day}#{hour}#{observation}#{sorted(dims.items())}",
        amount=amount,
        observation=observation,
    )


def test_series_keys_escape_separators_and_round_trip() -> None:
    dims = series.dimensions(series.AI_CALLS, model="we|ird=mo#del", outcome="answer")
    key = series.series_key("ai.calls", dims)
    assert key == "ai.calls|model=we%7Cird%3Dmo%23del|outcome=answer|failure_kind=-"
    assert series.parse_series(key) == (
        "ai.calls",
        {"model": "we|ird=mo#del", "outcome": "answer", "failure_kind": "-"},
    )
    assert series.series_key("x", series.dimensions(series.AI_COST, model="openai/gpt-4o:free"))
    with pytest.raises(ValueError, match="no dimension"):
        series.dimensions(series.STARTED, agent_id="u1")


def test_apply_and_merge() -> None:
    day = Rollup(WS, "2025-06-10")
    day.apply(inc(series.STARTED, channel="widget"))
    day.apply(inc(series.STARTED, channel="widget"))
    day.apply(inc(series.STARTED, channel="email", department_id="d1"))
    day.apply(inc(series.FIRST_RESPONSE, observation=60, agent_id="u1"))
    other = Rollup(WS, "2025-06-11")
    other.apply(inc(series.STARTED, channel="widget", amount=5))
    other.apply(inc(series.FIRST_RESPONSE, observation=600, agent_id="u1"))
    day.merge(other)
    assert day.counter("conversations.started") == 8
    assert day.counter("conversations.started", channel="email") == 1
    assert day.counter("conversations.started", department_id="d1") == 1
    assert day.counter("conversations.started_x") == 0  # a prefix is not a metric
    assert day.histogram("first_response_time", agent_id="u1").total == 2
    assert day.counters_by("conversations.started", "channel") == {"widget": 7, "email": 1}


def test_item_form_round_trips_one_item_per_metric() -> None:
    day = Rollup(WS, "2025-06-10")
    day.apply(inc(series.STARTED, channel="widget"))
    day.apply(inc(series.FIRST_RESPONSE, observation=60, agent_id="u1", department_id="d"))
    day.apply(inc(series.FIRST_RESPONSE, observation=59, agent_id="u1", department_id="d"))
    day.apply(inc(series.BOT_RESOLUTION, observation=0))
    items = day.to_items()
    b60 = bucket_of(60)
    assert items == {
        "conversations.started": {"c#channel=widget|department_id=-": 1},
        "first_response_time": {f"h#department_id=d|agent_id=u1#{b60}": 2},
        "bot.resolution_time": {"h#department_id=-#0": 1},
    }
    stored = {metric: {**attrs, "pk": "x", "expires_at": 1} for metric, attrs in items.items()}
    assert Rollup.from_items(WS, "2025-06-10", stored) == day


def test_updates_group_increments_per_item_for_day_and_hour() -> None:
    planned = rollup.updates(
        [
            inc(series.STARTED, hour=9, channel="widget"),
            inc(series.STARTED, hour=9, channel="widget"),
            inc(series.STARTED, hour=10, channel="widget"),
            inc(series.RESOLUTION, hour=10, observation=300, agent_id="u1"),
        ]
    )
    by_key = {update.key: update.adds for update in planned}
    assert by_key == {
        (f"{WS}#ROLLUP", "D#2025-06-10#conversations.started"): {
            "c#channel=widget|department_id=-": 3
        },
        (f"{WS}#ROLLUP", "D#2025-06-10#resolution_time"): {
            f"h#department_id=-|agent_id=u1#{bucket_of(300)}": 1
        },
        (f"{WS}#ROLLUP", "H#2025-06-10T09#conversations.started"): {
            "c#channel=widget|department_id=-": 2
        },
        (f"{WS}#ROLLUP", "H#2025-06-10T10#conversations.started"): {
            "c#channel=widget|department_id=-": 1
        },
        (f"{WS}#ROLLUP", "H#2025-06-10T10#resolution_time"): {
            f"h#department_id=-|agent_id=u1#{bucket_of(300)}": 1
        },
    }


def test_sort_keys_select_one_granularity_and_the_whole_range() -> None:
    low, high = rollup.sort_key_range("2025-06-01", "2025-06-30")
    inside = [rollup.sort_key(p, "ai.calls") for p in ("2025-06-01", "2025-06-30")]
    outside = [
        rollup.sort_key("2025-05-31", "ai.calls"),
        rollup.sort_key("2025-07-01", "ai.calls"),
        rollup.sort_key("2025-06-15T10", "ai.calls"),
    ]
    assert all(low <= sk <= high for sk in inside)
    assert not any(low <= sk <= high for sk in outside)
    low, high = rollup.sort_key_range("2025-06-01T00", "2025-06-01T23")
    assert low <= rollup.sort_key("2025-06-01T23", "z") <= high
    assert rollup.parse_sort_key("H#2025-06-01T23#ai.calls") == ("2025-06-01T23", "ai.calls")


def test_book_applies_each_dedupe_key_once() -> None:
    book = RollupBook()
    once = inc(series.STARTED, key="k1", channel="widget")
    seen: set[str] = set()
    assert book.apply([once, once], seen) == 1
    assert book.apply([once], seen) == 0
    assert [r.period for r in book.read(WS, "day")] == ["2025-06-10"]
    assert [r.period for r in book.read(WS, "hour")] == ["2025-06-10T09"]
    assert book.read(WS, "day")[0].counter("conversations.started") == 1
    assert book.read("other", "day") == []


# ---------------------------------------------------------------- reports

JUNE = DateRange(date(2025, 6, 1), date(2025, 6, 30), "UTC")


def test_empty_range_is_zeros_and_nulls() -> None:
    result = reports.overview([], JUNE).model_dump(by_alias=True)
    assert result == {
        "from": "2025-06-01",
        "to": "2025-06-30",
        "conversations": {
            "started": 0,
            "bot_handled": 0,
            "bot_resolved": 0,
            "handed_off": 0,
            "resolved": 0,
            "reopened": 0,
        },
        "first_response": {"median_seconds": None, "p90_seconds": None},
        "resolution": {"median_seconds": None, "p90_seconds": None},
        "csat": {"score": None, "responses": 0, "response_rate": None},
        "bot": {
            "containment_rate": None,
            "handoff_rate": None,
            "time_to_handoff": {"median_seconds": None, "p90_seconds": None},
        },
        "ai": {
            "calls": 0,
            "failures": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost_usd": "0",
        },
        "privacy": {
            "received": 0,
            "completed": 0,
            "completed_on_time": 0,
            "overdue": 0,
            "denied": 0,
            "cancelled": 0,
        },
    }
    assert reports.agents([], JUNE).items == []
    assert reports.ai_usage([], JUNE).items == []


def leaves(value: Any, prefix: str = "") -> list[str]:
    if not isinstance(value, dict):
        return [prefix]
    return [leaf for key, inner in value.items() for leaf in leaves(inner, f"{prefix}{key}.")]


def test_timeseries_metrics_are_the_overview_paths() -> None:
    paths = [p.rstrip(".") for p in leaves(reports.overview([], JUNE).model_dump(by_alias=True))]
    assert tuple(p for p in paths if p not in ("from", "to")) == TIMESERIES_METRICS


def test_overview_sums_only_the_days_in_range() -> None:
    book = RollupBook()
    for day in ("2025-05-31", "2025-06-01", "2025-06-30", "2025-07-01"):
        book.apply([inc(series.STARTED, day=day, channel="widget")])
    assert reports.overview(book.read(WS, "day"), JUNE).conversations.started == 2


def test_rates_and_cost() -> None:
    day = Rollup(WS, "2025-06-10")
    for rating in ("5", "4", "3"):
        day.apply(inc(series.CSAT_RESPONSES, rating=rating))
    day.apply(inc(series.CSAT_OFFERED, amount=7))
    day.apply(inc(series.BOT_HANDLED, amount=3))
    day.apply(inc(series.BOT_RESOLVED, amount=2))
    day.apply(inc(series.AI_COST, amount=1_500_000_001, model="m"))
    result = reports.overview([day], JUNE)
    assert result.csat.score == 0.6667
    assert result.csat.response_rate == 0.4286
    assert result.bot.containment_rate == 0.6667
    assert result.bot.handoff_rate == 0.0
    assert result.ai.cost_usd == "1.500000001"
    assert reports.usd(0) == "0"
    assert reports.usd(10**9) == "1"


def test_department_filter_keeps_workspace_wide_metrics() -> None:
    day = Rollup(WS, "2025-06-10")
    day.apply(inc(series.HANDED_OFF, department_id="d1"))
    day.apply(inc(series.HANDED_OFF, department_id="d2"))
    day.apply(inc(series.AI_CALLS, model="m", outcome="answer"))
    result = reports.overview([day], JUNE, department_id="d1")
    assert result.conversations.handed_off == 1
    assert result.ai.calls == 1  # AI answers come before routing: not split by department


def test_timeseries_fills_gaps_and_stops_at_now() -> None:
    book = RollupBook()
    book.apply([inc(series.STARTED, day="2025-06-02", channel="widget", amount=4)])
    result = reports.timeseries(
        book.read(WS, "day"),
        "conversations.started",
        DateRange(date(2025, 6, 1), date(2025, 6, 30), "UTC"),
        now=datetime(2025, 6, 3, 12, tzinfo=UTC),
    )
    assert [(p.period, p.value) for p in result.points] == [
        ("2025-06-01", 0),
        ("2025-06-02", 4),
        ("2025-06-03", 0),
    ]
    assert result.points[1].start == "2025-06-02T00:00:00.000Z"
    medians = reports.timeseries(
        book.read(WS, "day"),
        "first_response.median_seconds",
        JUNE,
        now=datetime(2025, 6, 1, tzinfo=UTC),
    )
    assert [p.value for p in medians.points] == [None]


def test_a_month_of_days_reads_the_same_whatever_the_volume() -> None:
    # Reports read one rollup per day, however many events each day held.
    quiet, busy = RollupBook(), RollupBook()
    for n in range(30):
        day = f"2025-06-{n + 1:02d}"
        quiet.apply([inc(series.STARTED, day=day, channel="widget", amount=1)])
        busy.apply([inc(series.STARTED, day=day, channel="widget", amount=10_000)])
        busy.apply(
            [
                inc(series.FIRST_RESPONSE, day=day, observation=float(s), key=f"{day}{s}")
                for s in range(1, 600)
            ]
        )
    assert len(quiet.read(WS, "day")) == len(busy.read(WS, "day")) == 30
    assert reports.overview(busy.read(WS, "day"), JUNE).conversations.started == 300_000
    largest = max(len(attrs) for r in busy.read(WS, "day") for attrs in r.to_items().values())
    assert largest < 100  # a histogram item holds buckets, not observations


def test_histogram_sparse_buckets_in_reports() -> None:
    day = Rollup(WS, "2025-06-10")
    day.histograms["first_response_time|department_id=-|agent_id=u1"] = Histogram.of([30] * 9)
    day.histograms["first_response_time|department_id=-|agent_id=u2"] = Histogram.of([3000])
    result = reports.overview([day], JUNE)
    assert result.first_response.median_seconds == pytest.approx(30, rel=0.05)
    assert result.first_response.p90_seconds == pytest.approx(30, rel=0.05)
    agents = {row.agent_id: row for row in reports.agents([day], JUNE).items}
    assert agents["u2"].first_response.median_seconds == pytest.approx(3000, rel=0.05)
