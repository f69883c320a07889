"""Metric names, their dimensions, and the series keys a rollup is counted under.

A series is one metric with one value per dimension, e.g.
`conversations.started|channel=widget|department_id=-`. Dimension values are ids the product
assigns (departments, agents' user ids, model ids, channels, ratings), never visitor data or
text. "-" stands for "none" (an unrouted conversation, a bot resolve without an agent).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from yoosr.models.workspace import WorkspaceSettings

NONE = "-"
Kind = Literal["counter", "histogram"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    dimensions: tuple[str, ...]
    unit: str = "count"


def _counter(name: str, *dimensions: str) -> Metric:
    return Metric(name, "counter", dimensions)


def _histogram(name: str, unit: str, *dimensions: str) -> Metric:
    return Metric(name, "histogram", dimensions, unit)


STARTED = _counter("conversations.started", "channel", "department_id")
BOT_HANDLED = _counter("conversations.bot_handled", "department_id")
BOT_RESOLVED = _counter("conversations.bot_resolved", "department_id")
HANDED_OFF = _counter("conversations.handed_off", "department_id")
BOT_HANDED_OFF = _counter("bot.handed_off", "department_id")
RESOLVED = _counter("conversations.resolved", "department_id", "agent_id", "owner")
REOPENED = _counter("conversations.reopened", "department_id")
MESSAGES = _counter("messages", "sender_type")
AGENT_MESSAGES = _counter("agent.messages", "agent_id")
AGENT_HANDLED = _counter("agent.conversations_handled", "agent_id", "department_id")
AGENT_ASSIGNED = _counter("agent.assigned", "agent_id", "department_id")
CSAT_OFFERED = _counter("csat.offered", "department_id", "agent_id")
CSAT_RESPONSES = _counter("csat.responses", "department_id", "agent_id", "rating")
AI_CALLS = _counter("ai.calls", "model", "outcome", "failure_kind")
AI_PROMPT_TOKENS = _counter("ai.prompt_tokens", "model")
AI_COMPLETION_TOKENS = _counter("ai.completion_tokens", "model")
AI_COST = _counter("ai.cost_nano_usd", "model")
PRIVACY_RECEIVED = _counter("privacy.received", "request_type")
PRIVACY_COMPLETED = _counter("privacy.completed", "request_type", "on_time")
PRIVACY_DENIED = _counter("privacy.denied", "request_type")
PRIVACY_CANCELLED = _counter("privacy.cancelled", "request_type")
PRIVACY_OVERDUE = _counter("privacy.overdue", "request_type")

FIRST_RESPONSE = _histogram("first_response_time", "seconds", "department_id", "agent_id")
RESOLUTION = _histogram("resolution_time", "seconds", "department_id", "agent_id")
BOT_TIME_TO_HANDOFF = _histogram("bot.time_to_handoff", "seconds", "department_id")
BOT_RESOLUTION = _histogram("bot.resolution_time", "seconds", "department_id")
AI_LATENCY = _histogram("ai.latency", "milliseconds", "model")

METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        STARTED,
        BOT_HANDLED,
        BOT_RESOLVED,
        HANDED_OFF,
        BOT_HANDED_OFF,
        RESOLVED,
        REOPENED,
        MESSAGES,
        AGENT_MESSAGES,
        AGENT_HANDLED,
        AGENT_ASSIGNED,
        CSAT_OFFERED,
        CSAT_RESPONSES,
        AI_CALLS,
        AI_PROMPT_TOKENS,
        AI_COMPLETION_TOKENS,
        AI_COST,
        PRIVACY_RECEIVED,
        PRIVACY_COMPLETED,
        PRIVACY_DENIED,
        PRIVACY_CANCELLED,
        PRIVACY_OVERDUE,
        FIRST_RESPONSE,
        RESOLUTION,
        BOT_TIME_TO_HANDOFF,
        BOT_RESOLUTION,
        AI_LATENCY,
    )
}

NANO_USD_PER_USD = 10**9
"""Cost is counted in billionths of a dollar: integers add exactly, and OpenRouter prices
have at most 9 decimals."""

Dimensions = tuple[tuple[str, str], ...]

# Separators of a series key ("|", "=") and of stored attribute names ("#") are escaped in
# values; ids, model names ("openai/gpt-4o:free") and channels read as they are.
_SAFE = "-_.:/@~+ "


def dimensions(metric: Metric, **values: str | None) -> Dimensions:
    """The metric's dimensions in their fixed order; a missing value is NONE."""
    unknown = set(values) - set(metric.dimensions)
    if unknown:
        raise ValueError(f"{metric.name} has no dimension {sorted(unknown)}")
    return tuple((name, values.get(name) or NONE) for name in metric.dimensions)


@lru_cache(maxsize=8192)
def series_key(metric: str, dims: Dimensions) -> str:
    return "|".join([metric, *(f"{name}={quote(value, safe=_SAFE)}" for name, value in dims)])


def parse_series(key: str) -> tuple[str, dict[str, str]]:
    metric, *parts = key.split("|")
    dims: dict[str, str] = {}
    for part in parts:
        name, _, value = part.partition("=")
        dims[name] = unquote(value)
    return metric, dims


@lru_cache(maxsize=256)
def zone(timezone: str) -> ZoneInfo:
    """An IANA zone (raises ZoneInfoNotFoundError for an unknown name)."""
    return ZoneInfo(timezone)


def workspace_timezone(settings: WorkspaceSettings) -> str:
    """Day boundaries follow the business-hours time zone, UTC when none is set."""
    return settings.business_hours.timezone if settings.business_hours else "UTC"
