"""Workspace settings as stored on the workspace item."""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str
    weekly: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)
    holidays: list[str] = Field(default_factory=list, max_length=366)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("unknown IANA time zone") from error
        return value

    @field_validator("weekly")
    @classmethod
    def _valid_week(
        cls, value: dict[str, list[tuple[str, str]]]
    ) -> dict[str, list[tuple[str, str]]]:
        for day, intervals in value.items():
            if day not in _DAYS:
                raise ValueError(f"unknown day {day!r}; use mon..sun")
            if len(intervals) > 8:
                raise ValueError(f"at most 8 intervals on {day}")
            for start, end in intervals:
                if not (_HHMM.match(start) and _HHMM.match(end)) or start >= end:
                    raise ValueError(f"bad interval {start}-{end} on {day}")
            ordered = sorted(intervals)
            for (_, end), (start, _) in pairwise(ordered):
                if start < end:
                    raise ValueError(f"overlapping intervals on {day}")
        return value

    @field_validator("holidays")
    @classmethod
    def _valid_holidays(cls, value: list[str]) -> list[str]:
        for holiday in value:
            try:
                date.fromisoformat(holiday)
            except (TypeError, ValueError) as error:
                raise ValueError(f"holiday {holiday!r} is not a YYYY-MM-DD date") from error
            if len(holiday) != 10:
                raise ValueError(f"holiday {holiday!r} is not a YYYY-MM-DD date")
        return sorted(set(value))


class Appearance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    color: str = "#4F46E5"
    position: str = "right"
    title: str = "Chat with us"


class WorkspaceSettings(BaseModel):
    """Stored settings; extra keys are ignored so older code reads newer items."""

    model_config = ConfigDict(extra="ignore")

    allowed_origins: list[str] = Field(default_factory=list)
    allowed_dashboard_origins: list[str] = Field(default_factory=list)
    identity_verification_required: bool = False
    identity_secret: str | None = None
    identity_secret_rotated_at: str | None = None
    greeting: str = "Hi! How can we help you today?"
    appearance: Appearance = Field(default_factory=Appearance)
    business_hours: BusinessHours | None = None
    pre_chat_fields: list[str] = Field(default_factory=list)
    retention_days: int | None = None
    # OpenRouter model id (for example "openai/gpt-4o-mini"); None: the platform default.
    ai_model: str | None = None
    # Tried in order when the model fails or is unavailable (OpenRouter `models`).
    ai_fallback_models: list[str] = Field(default_factory=list)
    # Prompt + completion tokens a day (UTC); None: the platform default.
    ai_daily_token_budget: int | None = None
    # A conversation whose first human reply takes longer than this is flagged overdue.
    first_response_sla_seconds: int | None = None


class Workspace(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workspace_id: str
    org_id: str | None = None
    name: str
    status: str
    settings: WorkspaceSettings
    agents_online: int = 0
    created_at: str | None = None
    updated_at: str | None = None
    settings_version: int = 0
