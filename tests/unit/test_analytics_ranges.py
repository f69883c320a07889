"""Analytics query validation: dates, limits, intervals, metric names → 400 with details."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from yoosr.analytics import ranges
from yoosr.analytics.ranges import DateRange, parse_metric, parse_range
from yoosr.errors import BadRequest

TODAY = date(2025, 6, 15)


def parse(
    from_: str | None, to: str | None, interval: str | None = None, tz: str = "UTC"
) -> DateRange:
    return parse_range(from_, to, timezone=tz, today=TODAY, interval=interval)


def test_both_ends_inclusive() -> None:
    result = parse("2025-06-01", "2025-06-30")
    assert (result.start, result.end, result.day_count) == (date(2025, 6, 1), date(2025, 6, 30), 30)
    assert result.periods()[0] == "2025-06-01"
    assert result.periods()[-1] == "2025-06-30"
    assert parse("2025-06-01", "2025-06-01").day_count == 1


def test_defaults_are_the_last_thirty_days() -> None:
    result = parse(None, None)
    assert (result.start, result.end, result.interval) == (date(2025, 5, 17), TODAY, "day")
    assert parse(None, "2025-01-30").start == date(2025, 1, 1)


def test_a_future_end_is_accepted() -> None:
    assert parse("2025-06-01", "2026-01-01").end == date(2026, 1, 1)


def test_at_most_400_days() -> None:
    assert parse("2024-06-01", "2025-07-05").day_count == 400
    with pytest.raises(BadRequest) as error:
        parse("2024-06-01", "2025-07-06")
    assert error.value.status == 400
    assert error.value.details[0]["type"] == "range_too_long"


def test_by_the_hour_at_most_31_days() -> None:
    assert parse("2025-05-01", "2025-05-31", "hour").interval == "hour"
    with pytest.raises(BadRequest) as error:
        parse("2025-05-01", "2025-06-01", "hour")
    assert error.value.details[0]["field"] == "interval"


@pytest.mark.parametrize(
    ("from_", "to", "interval", "field", "kind"),
    [
        ("2025-06-30", "2025-06-01", None, "from", "invalid_range"),
        ("2025-6-1", "2025-06-30", None, "from", "invalid_date"),
        ("20250601", "2025-06-30", None, "from", "invalid_date"),  # ISO basic: not accepted
        ("2025-06-01T00:00", "2025-06-30", None, "from", "invalid_date"),
        ("2025-02-30", "2025-06-30", None, "from", "invalid_date"),
        ("2025-06-01", "tomorrow", None, "to", "invalid_date"),
        ("2025-06-01", "2025-06-30", "week", "interval", "invalid_interval"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    from_: str, to: str, interval: str | None, field: str, kind: str
) -> None:
    with pytest.raises(BadRequest) as error:
        parse(from_, to, interval)
    body = error.value.body()["error"]
    assert error.value.status == 400
    assert body["code"] == "invalid_query"
    assert body["details"] == [{"field": field, "message": body["message"], "type": kind}]


def test_metric_names() -> None:
    assert parse_metric("csat.score") == "csat.score"
    for bad in (None, "", "csat", "conversations.started.x"):
        with pytest.raises(BadRequest):
            parse_metric(bad)


def test_local_days_and_hours() -> None:
    oslo = DateRange(date(2025, 6, 10), date(2025, 6, 10), "Europe/Oslo", "hour")
    periods = oslo.periods()
    assert len(periods) == 24
    assert oslo.period_start(periods[0]) == datetime(2025, 6, 9, 22, tzinfo=UTC)
    assert ranges.local_today(datetime(2025, 6, 9, 22, 30, tzinfo=UTC), "Europe/Oslo") == date(
        2025, 6, 10
    )


def test_daylight_saving_days() -> None:
    # Oslo springs forward on 30 March 2025 (02:00 → 03:00) and falls back on 26 October.
    spring = DateRange(date(2025, 3, 30), date(2025, 3, 30), "Europe/Oslo", "hour").periods()
    assert len(spring) == 23
    assert "2025-03-30T02" not in spring
    autumn = DateRange(date(2025, 10, 26), date(2025, 10, 26), "Europe/Oslo", "hour").periods()
    assert len(autumn) == 24  # the repeated 02:00 hour is one period


def test_periods_stop_at_now() -> None:
    june = DateRange(date(2025, 6, 1), date(2025, 6, 30), "UTC", "day")
    assert june.periods(until=datetime(2025, 6, 2, 23, 59, tzinfo=UTC)) == [
        "2025-06-01",
        "2025-06-02",
    ]
    hours = DateRange(date(2025, 6, 1), date(2025, 6, 1), "UTC", "hour")
    assert hours.periods(until=datetime(2025, 6, 1, 2, 0, tzinfo=UTC))[-1] == "2025-06-01T02"
    assert june.periods(until=datetime(2025, 5, 1, tzinfo=UTC)) == []
