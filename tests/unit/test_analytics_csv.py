"""CSV renderings of the analytics results: shape, and no formula ever reaches a spreadsheet."""

from __future__ import annotations

import csv as stdlib_csv
import io
from datetime import UTC, date, datetime

import pytest

from yoosr.analytics import csv, reports, series
from yoosr.analytics.events import Increment
from yoosr.analytics.ranges import TIMESERIES_METRICS, DateRange
from yoosr.analytics.rollup import Rollup
from yoosr.errors import BadRequest

JUNE = DateRange(date(2025, 6, 1), date(2025, 6, 30), "UTC")


def rows(text: str) -> list[list[str]]:
    assert text.endswith("\r\n")
    return list(stdlib_csv.reader(io.StringIO(text)))


def day_with(*increments: tuple[series.Metric, dict[str, str], int, float | None]) -> Rollup:
    day = Rollup("ws", "2025-06-10")
    for metric, dims, amount, observation in increments:
        day.apply(
            Increment(
                "ws",
                metric.name,
                series.dimensions(metric, **dims),
                "2025-06-10",
                9,
                "k",
                amount,
                observation,
            )
        )
    return day


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("user_2abc", "user_2abc"),
        ("openai/gpt-4o", "openai/gpt-4o"),
        (None, ""),
        (3, "3"),
        (0.25, "0.25"),
        (True, "true"),
    ],
)
def test_cells(value: str | int | float | None, cell: str) -> None:
    assert csv.safe_cell(value) == cell


def test_overview_lists_every_figure() -> None:
    day = day_with((series.STARTED, {"channel": "widget"}, 3, None))
    table = rows(csv.overview(reports.overview([day], JUNE)))
    assert table[0] == ["metric", "value"]
    assert table[1:3] == [["from", "2025-06-01"], ["to", "2025-06-30"]]
    assert [row[0] for row in table[3:]] == list(TIMESERIES_METRICS)
    values = dict(table)
    assert values["conversations.started"] == "3"
    assert values["first_response.median_seconds"] == ""  # null
    assert values["ai.cost_usd"] == "0"


def test_timeseries() -> None:
    day = day_with((series.STARTED, {"channel": "widget"}, 2, None))
    result = reports.timeseries(
        [day], "conversations.started", JUNE, datetime(2025, 6, 11, tzinfo=UTC)
    )
    table = rows(csv.timeseries(result))
    assert table[0] == ["period", "start", "conversations.started"]
    assert table[10] == ["2025-06-10", "2025-06-10T00:00:00.000Z", "2"]
    assert len(table) == 12


def test_agents_with_a_hostile_agent_id() -> None:
    day = day_with(
        (series.AGENT_MESSAGES, {"agent_id": "=cmd|' /C calc'!A0"}, 4, None),
        (series.FIRST_RESPONSE, {"agent_id": "u1"}, 1, 120.0),
    )
    table = rows(csv.agents(reports.agents([day], JUNE)))
    assert table[0][:3] == ["agent_id", "messages", "conversations_handled"]
    assert table[1][:2] == ["'=cmd|' /C calc'!A0", "4"]
    assert table[2][0] == "u1"
    assert 114 <= int(table[2][5]) <= 126  # the median first response, within 5 %


def test_ai_usage() -> None:
    day = day_with(
        (
            series.AI_CALLS,
            {"model": "m1", "outcome": "failure", "failure_kind": "timeout"},
            2,
            None,
        ),
        (series.AI_CALLS, {"model": "m1", "outcome": "answer"}, 1, None),
        (series.AI_COST, {"model": "m1"}, 2_500_000, None),
    )
    table = rows(csv.ai_usage(reports.ai_usage([day], JUNE)))
    assert table[0][:6] == [
        "model",
        "calls",
        "answers",
        "no_answers",
        "failures",
        "failures_by_kind",
    ]
    assert table[1][:6] == ["m1", "3", "1", "0", "2", "timeout=2"]
    assert table[1][8] == "0.0025"


@pytest.mark.parametrize(
    ("format_param", "accept", "wanted"),
    [
        ("csv", None, True),
        ("json", "text/csv", False),
        (None, "text/csv", True),
        (None, "text/csv; charset=utf-8", True),
        (None, "application/json, text/csv;q=0.5", False),
        (None, "text/csv, application/json;q=0.9", True),
        (None, "*/*", False),
        (None, "text/csv, */*", True),
        (None, None, False),
        (None, "text/csv;q=0", False),
    ],
)
def test_content_negotiation(format_param: str | None, accept: str | None, wanted: bool) -> None:
    assert csv.wants_csv(format_param, accept) is wanted


def test_unknown_format_is_400() -> None:
    with pytest.raises(BadRequest) as error:
        csv.wants_csv("xlsx", None)
    assert error.value.details[0]["field"] == "format"


def test_filename() -> None:
    assert csv.filename("ai-usage", "2025-06-01", "2025-06-30") == (
        "yoosr-ai-usage-2025-06-01-2025-06-30.csv"
    )
