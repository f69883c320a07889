"""Workspace administration API: request and response bodies (API.md, "Dashboard API").

Request bodies reject unknown fields, so ids, the workspace, roles, status and the identity
secret can never be written through them (mass assignment is impossible by construction).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from yoosr.domain.text import clean_message_text
from yoosr.models.common import Strict
from yoosr.models.workspace import Appearance, BusinessHours

MAX_WIDGET_ORIGINS = 50
MAX_DASHBOARD_ORIGINS = 20
RETENTION_DAYS_MAX = 3_650
SLA_SECONDS_MIN = 30
SLA_SECONDS_MAX = 7 * 86_400
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(rf"^(https?)://({_LABEL}(?:\.{_LABEL})*)(:\d{{1,5}})?$")
_AI_MODEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}/[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_COLOR = r"^#[0-9A-Fa-f]{6}$"


def valid_origin(value: str) -> str:
    """An exact browser origin: scheme, host, optional port; no path, no trailing slash."""
    lowered = value.strip().lower()
    match = _ORIGIN.match(lowered)
    if not match:
        raise ValueError("must be an origin such as https://shop.example (no path or slash)")
    port = match.group(3)
    if port and not 0 < int(port[1:]) < 65_536:
        raise ValueError("port out of range")
    return lowered


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def valid_text(value: str) -> str:
    cleaned = clean_message_text(value)
    if not cleaned:
        raise ValueError("must not be empty")
    return cleaned


def valid_ai_model(value: str) -> str:
    if not _AI_MODEL.match(value):
        raise ValueError("must be an OpenRouter model id such as openai/gpt-4o-mini")
    return value


Origin = Annotated[StrictStr, Field(max_length=300), AfterValidator(valid_origin)]
WidgetOrigins = Annotated[
    list[Origin], Field(max_length=MAX_WIDGET_ORIGINS), AfterValidator(_unique)
]
DashboardOrigins = Annotated[
    list[Origin], Field(max_length=MAX_DASHBOARD_ORIGINS), AfterValidator(_unique)
]
PreChatField = Literal["name", "email", "phone"]


class AppearancePatch(Strict):
    """The fields given replace the stored ones; the others are kept."""

    color: Annotated[StrictStr, Field(pattern=_COLOR)] | None = None
    position: Literal["left", "right"] | None = None
    title: Annotated[StrictStr, Field(max_length=60), AfterValidator(valid_text)] | None = None

    @field_validator("color", "position", "title", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


# Fields that may be cleared with null; every other field needs a value when present.
NULLABLE_SETTINGS = frozenset(
    {
        "retention_days",
        "ai_model",
        "ai_daily_token_budget",
        "business_hours",
        "first_response_sla_seconds",
    }
)
AI_FALLBACK_MODELS_MAX = 3
AI_DAILY_TOKEN_BUDGET_MAX = 100_000_000


class WorkspacePatch(Strict):
    """Settings to change; fields not given keep their value. `null` clears the fields that
    have no value by default (retention, AI model, business hours, first-response SLA)."""

    name: Annotated[StrictStr, Field(max_length=100), AfterValidator(valid_text)] | None = None
    allowed_origins: WidgetOrigins | None = Field(
        default=None,
        description="Origins allowed to use the widget (exact match); empty allows any.",
    )
    allowed_dashboard_origins: DashboardOrigins | None = Field(
        default=None,
        description="Extra dashboard origins accepted in a Clerk token's azp, beyond the "
        "deployment's ClerkAuthorizedParties.",
    )
    retention_days: Annotated[StrictInt, Field(ge=1, le=RETENTION_DAYS_MAX)] | None = Field(
        default=None,
        description="Conversations written from now on expire after this many days; "
        "null keeps them until deleted.",
    )
    ai_model: Annotated[StrictStr, AfterValidator(valid_ai_model)] | None = Field(
        default=None, description="OpenRouter model id; null uses the platform default."
    )
    ai_fallback_models: (
        Annotated[
            list[Annotated[StrictStr, AfterValidator(valid_ai_model)]],
            Field(max_length=AI_FALLBACK_MODELS_MAX),
            AfterValidator(_unique),
        ]
        | None
    ) = Field(
        default=None,
        description="OpenRouter model ids tried in order when the model fails (at most "
        f"{AI_FALLBACK_MODELS_MAX}).",
    )
    ai_daily_token_budget: (
        Annotated[StrictInt, Field(ge=0, le=AI_DAILY_TOKEN_BUDGET_MAX)] | None
    ) = Field(
        default=None,
        description="Prompt + completion tokens the bot may use per UTC day; past it the bot "
        "hands off (0: every AI step hands off). Null uses the platform default.",
    )
    business_hours: BusinessHours | None = Field(
        default=None,
        description="IANA time zone, weekly intervals (HH:MM, mon..sun) and holidays "
        "(YYYY-MM-DD); null means always open.",
    )
    identity_verification_required: StrictBool | None = Field(
        default=None,
        description="Require a user_hash for widget identities; needs an identity secret.",
    )
    greeting: Annotated[StrictStr, Field(max_length=500), AfterValidator(valid_text)] | None = None
    appearance: AppearancePatch | None = None
    pre_chat_fields: (
        Annotated[list[PreChatField], Field(max_length=3), AfterValidator(_unique)] | None
    ) = None
    first_response_sla_seconds: (
        Annotated[StrictInt, Field(ge=SLA_SECONDS_MIN, le=SLA_SECONDS_MAX)] | None
    ) = Field(
        default=None,
        description="A conversation whose first human reply takes longer is flagged overdue.",
    )

    @field_validator(
        "name",
        "allowed_origins",
        "allowed_dashboard_origins",
        "identity_verification_required",
        "greeting",
        "appearance",
        "pre_chat_fields",
        "ai_fallback_models",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> WorkspacePatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class WorkspaceSettingsOut(BaseModel):
    allowed_origins: list[str]
    allowed_dashboard_origins: list[str]
    retention_days: int | None
    ai_model: str | None
    ai_fallback_models: list[str]
    ai_daily_token_budget: int | None
    business_hours: BusinessHours | None
    identity_verification_required: bool
    identity_secret_set: bool = Field(
        description="Whether an identity-verification secret exists; the secret itself is "
        "shown only once, when it is rotated."
    )
    identity_secret_rotated_at: str | None
    greeting: str
    appearance: Appearance
    pre_chat_fields: list[str]
    first_response_sla_seconds: int | None


class WorkspaceOut(BaseModel):
    id: str
    org_id: str | None
    name: str
    status: str
    created_at: str | None
    updated_at: str | None
    settings_version: int
    settings: WorkspaceSettingsOut


class IdentitySecretOut(BaseModel):
    identity_secret: str = Field(
        description="HMAC-SHA256 key for widget identity verification. Shown only in this "
        "response; the previous secret stops working at once."
    )
    rotated_at: str


class WidgetKeyCreate(Strict):
    label: Annotated[StrictStr, Field(max_length=100), AfterValidator(valid_text)] = Field(
        description="What the key is for, e.g. the site it is embedded in."
    )


class WidgetKeyOut(BaseModel):
    id: str
    label: str
    widget_key: str = Field(description="The public key to embed (X-Yoosr-Widget-Key).")
    active: bool
    created_at: str
    revoked_at: str | None
