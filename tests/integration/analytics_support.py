"""Analytics test support: the analytics API and its stream consumer configured from the
template, readers of the stored rollups, and a frozen clock in a workspace's local time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from local.resources import function_environment
from local.template import load_template
from tests.integration.dashboard_support import (
    DASHBOARD_ORIGIN,
    configure_dashboard_env,
    dev_issuer,
)
from tests.integration.routing_support import StreamTap
from tests.support import ROOT, HttpHandlerClient, Response, load_function
from yoosr import clock
from yoosr.analytics import consumer, rollup
from yoosr.settings import AnalyticsSettings, get_settings
from yoosr.store import ddb


@cache
def _client(stack_id: int) -> HttpHandlerClient:
    return HttpHandlerClient(load_function("analytics").lambda_handler)


def analytics_client(stack: Any) -> HttpHandlerClient:
    configure_dashboard_env(stack, "AnalyticsFunction")
    client = _client(id(stack))
    assert get_settings(AnalyticsSettings).clerk_pem_public_key == dev_issuer().public_pem
    return client


def analytics_events(stack: Any) -> Any:
    """The consumer module, with the environment the template gives it."""
    template = load_template(ROOT / "template.yaml")
    env = function_environment(template, "AnalyticsEventsFunction", stack.resources)
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ.update(env)
    consumer.forget_timezones()
    return load_function("analytics_events")


def analytics_tap(stack: Any) -> StreamTap:
    return StreamTap(stack, "AnalyticsEventsFunction")


def privacy_tap(stack: Any) -> StreamTap:
    """The PrivacyRequestsTable stream, through the consumer's filter (audit events only)."""
    return StreamTap(stack, "AnalyticsEventsFunction", table="PrivacyRequestsTable")


def ask(
    client: HttpHandlerClient,
    token: str,
    endpoint: str,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """GET /v1/analytics/<endpoint> (samples events/analytics_*.json) with a dashboard token."""
    sample = "analytics_" + endpoint.replace("-", "_")
    return client.call(
        sample,
        headers={"authorization": f"Bearer {token}", "origin": DASHBOARD_ORIGIN, **(headers or {})},
        query=query or {},
    )


def rollup_items(stack: Any, workspace_id: str) -> list[dict[str, Any]]:
    """Every stored rollup item of a workspace, in key order."""
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page, start = ddb.query(
            stack.table("AnalyticsTable"),
            "pk = :pk",
            ddb.values(pk=rollup.partition_key(workspace_id)),
            start_key=start,
        )
        items += page
        if not start:
            return items


class LocalClock:
    """yoosr's clock frozen at a local time of `zone`, moved by `at(day, "HH:MM:SS")`."""

    def __init__(self, zone: str, day: str) -> None:
        self.zone = ZoneInfo(zone)
        self.day = day
        self.now = self.moment(day, "08:00:00")

    def moment(self, day: str, hhmmss: str) -> float:
        return datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=self.zone).timestamp()

    def at(self, hhmmss: str, day: str | None = None) -> float:
        moment = self.moment(day or self.day, hhmmss)
        assert moment >= self.now, "the scripted clock only moves forward"
        self.now = moment
        return moment


@contextmanager
def frozen_at(zone: str, day: str) -> Iterator[LocalClock]:
    local = LocalClock(zone, day)
    clock.freeze(lambda: local.now)
    try:
        yield local
    finally:
        clock.unfreeze()
