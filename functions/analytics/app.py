"""Analytics: the dashboard API for a workspace's figures (API.md, "Dashboard API";
docs/metrics.md defines every figure).

Every route needs a Clerk session token of the workspace's organization, role admin
(yoosr.dashboard.access.ROUTE_ROLES), and answers JSON or, with `?format=csv` or
`Accept: text/csv`, CSV. Routes are glue: parse, one call into yoosr.analytics.service,
return the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Response

from yoosr.analytics import csv, service
from yoosr.analytics.ranges import MAX_DAYS, MAX_HOUR_DAYS, TIMESERIES_METRICS
from yoosr.analytics.reports import AgentsReport, AiUsageReport, Overview, Timeseries
from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.cors import dashboard_cors
from yoosr.dashboard.http import caller_dependency
from yoosr.http import ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.settings import AnalyticsSettings, get_settings

settings = get_settings(AnalyticsSettings)
app = create_app(
    title="Yoosr analytics API",
    description="Dashboard API (Clerk session token as Authorization: Bearer, role admin) for "
    "a workspace's support figures, read from pre-aggregated daily and hourly rollups. Dates "
    "are YYYY-MM-DD in the workspace's time zone (its business hours' zone, else UTC), both "
    f"ends inclusive: from ≤ to, at most {MAX_DAYS} days, hourly at most {MAX_HOUR_DAYS} "
    "days; otherwise 400. Every route answers CSV with ?format=csv or Accept: text/csv. "
    "Definitions: docs/metrics.md.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[dashboard_cors(lambda: settings.authorized_parties)],
)

Caller = Annotated[DashboardCaller, Depends(caller_dependency(lambda: settings))]
From = Annotated[
    str | None,
    Query(alias="from", max_length=32, description="First day, YYYY-MM-DD (default: to − 29)."),
]
To = Annotated[
    str | None, Query(max_length=32, description="Last day, YYYY-MM-DD (default: today).")
]
Department = Annotated[
    str | None,
    Query(max_length=64, description="Only this department's figures (where they have one)."),
]
Format = Annotated[str | None, Query(max_length=8, description="json (default) or csv.")]
Accept = Annotated[str | None, Header(max_length=1024)]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    **ERROR_RESPONSES,
}


def shared_query(
    from_: From = None, to: To = None, format: Format = None, accept: Accept = None
) -> service.Query:
    """The range and the format every analytics route takes."""
    return service.Query(from_, to, format, accept)


Shared = Annotated[service.Query, Depends(shared_query)]


def _respond(result: Any) -> Any:
    if isinstance(result, service.Csv):
        return Response(
            content=result.text,
            media_type=csv.MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
        )
    return result


@app.get("/v1/analytics/overview", response_model=Overview, responses=CSV_RESPONSE)
def overview(caller: Caller, query: Shared, department_id: Department = None) -> Any:
    """Volume, first response, resolution, CSAT, bot containment and handoffs, AI usage and
    privacy requests over the range."""
    return _respond(service.overview(settings, caller, replace(query, department_id=department_id)))


@app.get("/v1/analytics/timeseries", response_model=Timeseries, responses=CSV_RESPONSE)
def timeseries(
    caller: Caller,
    query: Shared,
    metric: Annotated[
        str | None,
        Query(max_length=64, description="An overview figure: " + ", ".join(TIMESERIES_METRICS)),
    ] = None,
    interval: Annotated[
        str | None, Query(max_length=8, description="day (default) or hour.")
    ] = None,
    department_id: Department = None,
) -> Any:
    """One overview figure per local day or hour of the range, up to now."""
    query = replace(query, department_id=department_id)
    return _respond(service.timeseries(settings, caller, query, metric, interval))


@app.get("/v1/analytics/agents", response_model=AgentsReport, responses=CSV_RESPONSE)
def agents(caller: Caller, query: Shared) -> Any:
    """Per agent who did anything in the range: messages, conversations handled, assignments,
    resolves, first response and resolution times, CSAT."""
    return _respond(service.agents(settings, caller, query))


@app.get("/v1/analytics/ai-usage", response_model=AiUsageReport, responses=CSV_RESPONSE)
def ai_usage(caller: Caller, query: Shared) -> Any:
    """Per model the bot called: calls, answers, failures by kind, tokens, cost, latency."""
    return _respond(service.ai_usage(settings, caller, query))


lambda_handler = lambda_handler_for(app)
