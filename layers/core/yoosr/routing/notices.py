"""What a waiting visitor is told, and the first-response deadline. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from yoosr import clock
from yoosr.domain import business_hours
from yoosr.models.workspace import BusinessHours

DEFAULT_FIRST_RESPONSE_SLA_SECONDS = 300

NoticeKind = Literal["outside_business_hours", "no_agent_online", "all_agents_busy"]


def first_response_sla_seconds(
    department: Mapping[str, Any] | None, workspace_sla_seconds: int | None
) -> int:
    """The department's threshold, else the workspace's, else five minutes."""
    for value in ((department or {}).get("first_response_sla_seconds"), workspace_sla_seconds):
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_FIRST_RESPONSE_SLA_SECONDS


def due_at(now: datetime, seconds: int) -> str:
    return clock.iso(now + timedelta(seconds=seconds))


def team_hours(
    workspace_hours: BusinessHours | None, department: Mapping[str, Any] | None
) -> BusinessHours | None:
    """A department's own business hours override the workspace's."""
    override = (department or {}).get("business_hours")
    if override:
        try:
            return BusinessHours.model_validate(override)
        except ValidationError:  # a stored override we cannot read must not block routing
            return workspace_hours
    return workspace_hours


@dataclass(frozen=True)
class Availability:
    inside_business_hours: bool
    next_open_at: datetime | None
    timezone: str | None
    agents_online: bool

    @property
    def next_open_iso(self) -> str | None:
        return clock.iso(self.next_open_at) if self.next_open_at else None


def availability(hours: BusinessHours | None, now: datetime, agents_online: bool) -> Availability:
    open_now, next_open = business_hours.status(hours, now)
    return Availability(open_now, next_open, hours.timezone if hours else None, agents_online)


@dataclass(frozen=True)
class WaitingNotice:
    kind: NoticeKind
    text: str
    expected_at: str | None


def _when(moment: datetime, timezone: str | None, now: datetime) -> str:
    zone = ZoneInfo(timezone) if timezone else None
    local = moment.astimezone(zone) if zone else moment
    day = f"{local:%A}" if (moment - now) < timedelta(days=6) else f"{local:%A %d %B}"
    return f"{day} at {local:%H:%M}" + (f" ({timezone})" if timezone else " UTC")


def waiting_notice(available: Availability, position: int | None, now: datetime) -> WaitingNotice:
    """The system message for a visitor whose conversation waits for an agent."""
    place = f" You are number {position} in line." if position else ""
    if not available.inside_business_hours:
        if available.next_open_at is not None:
            when = _when(available.next_open_at, available.timezone, now)
            text = (
                f"Our team is away right now. We're back {when} and will answer you then."
                f"{place} You can close this window: the conversation stays here."
            )
        else:
            text = (
                f"Our team is away right now and will answer you as soon as someone is back.{place}"
            )
        return WaitingNotice("outside_business_hours", text, available.next_open_iso)
    if not available.agents_online:
        text = (
            "No one from our team is online at the moment. We'll answer as soon as someone "
            f"is back.{place}"
        )
        return WaitingNotice("no_agent_online", text, None)
    text = f"All our agents are helping other visitors. We'll be with you shortly.{place}"
    return WaitingNotice("all_agents_busy", text, None)
