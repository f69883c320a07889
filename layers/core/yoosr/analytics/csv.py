"""CSV renderings of the analytics results (RFC 4180, CRLF line ends, a header row).

Text cells that a spreadsheet would read as a formula (starting with = + - @, a tab or a
carriage return) get a leading apostrophe, so an agent id or model name can never run as one
(OWASP "CSV injection"). Numbers are written as they are; a null figure is an empty cell.
"""

from __future__ import annotations

import csv as _csv
import io
from collections.abc import Iterable, Sequence
from typing import Literal

from yoosr.analytics.ranges import TIMESERIES_METRICS
from yoosr.analytics.reports import (
    AgentsReport,
    AiUsageReport,
    Overview,
    Timeseries,
    value_at,
)
from yoosr.errors import BadRequest

MEDIA_TYPE = "text/csv; charset=utf-8"
Cell = str | int | float | None
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _render(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = _csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def overview(result: Overview) -> str:
    """One row per figure: `metric,value` (the timeseries metric names)."""
    rows: list[Sequence[Cell]] = [("from", result.from_), ("to", result.to)]
    rows += [(path, value_at(result, path)) for path in TIMESERIES_METRICS]
    return _render(("metric", "value"), rows)


def timeseries(result: Timeseries) -> str:
    return _render(
        ("period", "start", result.metric),
        ((point.period, point.start, point.value) for point in result.points),
    )


def agents(result: AgentsReport) -> str:
    header = (
        "agent_id",
        "messages",
        "conversations_handled",
        "assigned",
        "resolved",
        "first_response_median_seconds",
        "first_response_p90_seconds",
        "resolution_median_seconds",
        "resolution_p90_seconds",
        "csat_score",
        "csat_responses",
    )
    rows = (
        (
            row.agent_id,
            row.messages,
            row.conversations_handled,
            row.assigned,
            row.resolved,
            row.first_response.median_seconds,
            row.first_response.p90_seconds,
            row.resolution.median_seconds,
            row.resolution.p90_seconds,
            row.csat.score,
            row.csat.responses,
        )
        for row in result.items
    )
    return _render(header, rows)


def ai_usage(result: AiUsageReport) -> str:
    header = (
        "model",
        "calls",
        "answers",
        "no_answers",
        "failures",
        "failures_by_kind",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_median_ms",
        "latency_p90_ms",
    )
    rows = (
        (
            row.model,
            row.calls,
            row.answers,
            row.no_answers,
            row.failures,
            ";".join(f"{kind}={count}" for kind, count in row.failures_by_kind.items()),
            row.prompt_tokens,
            row.completion_tokens,
            row.cost_usd,
            row.latency.median_ms,
            row.latency.p90_ms,
        )
        for row in result.items
    )
    return _render(header, rows)


def wants_csv(format_param: str | None, accept: str | None) -> bool:
    """`?format=csv|json` decides; otherwise an Accept header that asks for text/csv and
    prefers it at least as much as JSON."""
    if format_param:
        if format_param not in ("csv", "json"):
            raise BadRequest(
                "format must be 'csv' or 'json'",
                code="invalid_query",
                details=[
                    {
                        "field": "format",
                        "message": "format must be 'csv' or 'json'",
                        "type": "invalid_format",
                    }
                ],
            )
        return format_param == "csv"
    weights = _accept_weights(accept or "")
    csv_q = weights.get("text/csv", 0.0)
    json_q = max(weights.get("application/json", 0.0), weights.get("*/*", 0.0) * 0.999)
    return csv_q > 0 and csv_q >= json_q


def _accept_weights(header: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), q)
    return weights


Endpoint = Literal["overview", "timeseries", "agents", "ai-usage"]


def filename(endpoint: Endpoint, start: str, end: str) -> str:
    """For Content-Disposition: `yoosr-overview-2024-05-01-2024-05-31.csv`."""
    return f"yoosr-{endpoint}-{start}-{end}.csv"
