"""Team API (departments, agents and presence, labels, canned responses): request and
response bodies. Request bodies reject unknown fields, so ids, workspace, role and load can
never be written through them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt, model_validator

from yoosr.domain.text import clean_message_text
from yoosr.models.common import Strict
from yoosr.models.workspace import BusinessHours

RoutingStrategy = Literal["round_robin", "least_busy"]
AgentStatus = Literal["online", "away", "offline"]

DEPARTMENT_NAME_MAX = 100
LABEL_NAME_MAX = 50
CANNED_TITLE_MAX = 100
CANNED_CONTENT_MAX = 5_000
SHORTCUT_MAX = 32
AGENT_CAPACITY_MAX = 50
AGENT_DEPARTMENTS_MAX = 20
SLA_MIN_SECONDS = 60
SLA_MAX_SECONDS = 7 * 86_400

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SHORTCUT = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{SHORTCUT_MAX - 1}}}$")


def _one_line(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        value = " ".join(clean_message_text(value).split())
        if not 1 <= len(value) <= limit:
            raise ValueError(f"must be 1 to {limit} characters")
        return value

    return AfterValidator(check)


def valid_shortcut(value: str) -> str:
    """`/refund`, `Refund` and `refund` are the same shortcut: stored as `refund`."""
    value = value.strip().removeprefix("/").lower()
    if not _SHORTCUT.match(value):
        raise ValueError(
            f"must be 1 to {SHORTCUT_MAX} of a-z, 0-9, '-' or '_' (a leading '/' is optional)"
        )
    return value


def valid_color(value: str) -> str:
    if not _COLOR.match(value):
        raise ValueError("must be a hex color like #1A2B3C")
    return value.upper()


def valid_content(value: str) -> str:
    value = clean_message_text(value)
    if not 1 <= len(value) <= CANNED_CONTENT_MAX:
        raise ValueError(f"must be 1 to {CANNED_CONTENT_MAX} characters")
    return value


DepartmentName = Annotated[
    str, Field(max_length=4 * DEPARTMENT_NAME_MAX), _one_line(DEPARTMENT_NAME_MAX)
]
LabelName = Annotated[str, Field(max_length=4 * LABEL_NAME_MAX), _one_line(LABEL_NAME_MAX)]
CannedTitle = Annotated[str, Field(max_length=4 * CANNED_TITLE_MAX), _one_line(CANNED_TITLE_MAX)]
CannedContent = Annotated[
    str, Field(max_length=4 * CANNED_CONTENT_MAX), AfterValidator(valid_content)
]
Shortcut = Annotated[str, Field(max_length=4 * SHORTCUT_MAX), AfterValidator(valid_shortcut)]
Color = Annotated[str, Field(max_length=7), AfterValidator(valid_color)]
SlaSeconds = Annotated[StrictInt, Field(ge=SLA_MIN_SECONDS, le=SLA_MAX_SECONDS)]
DepartmentId = Annotated[str, Field(pattern=r"^dept_[0-9A-HJKMNP-TV-Z]{26}$")]


class _Patch(Strict):
    """A PATCH body: only the fields given change; at least one is needed."""

    @model_validator(mode="after")
    def _not_empty(self) -> _Patch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self

    def given(self) -> dict[str, object]:
        """The fields the client sent (an explicit null included), in storable form."""
        dumped = self.model_dump(mode="json")
        return {name: dumped[name] for name in self.model_fields_set}


def _no_nulls(patch: _Patch, *fields: str) -> None:
    for name in fields:
        if name in patch.model_fields_set and getattr(patch, name) is None:
            raise ValueError(f"{name} cannot be null")


# ---------------------------------------------------------------- departments


class DepartmentCreate(Strict):
    name: DepartmentName
    routing_strategy: RoutingStrategy = "round_robin"
    business_hours: BusinessHours | None = Field(
        default=None, description="Overrides the workspace's business hours for this department."
    )
    first_response_sla_seconds: SlaSeconds | None = Field(
        default=None, description="Overrides the workspace's first-response threshold."
    )


class DepartmentUpdate(_Patch):
    name: DepartmentName | None = None
    routing_strategy: RoutingStrategy | None = None
    business_hours: BusinessHours | None = Field(
        default=None, description="null removes the override."
    )
    first_response_sla_seconds: SlaSeconds | None = Field(
        default=None, description="null removes the override."
    )

    @model_validator(mode="after")
    def _required_not_null(self) -> DepartmentUpdate:
        _no_nulls(self, "name", "routing_strategy")
        return self


class DepartmentOut(BaseModel):
    id: str
    name: str
    routing_strategy: RoutingStrategy
    business_hours: BusinessHours | None
    first_response_sla_seconds: int | None
    member_count: int = Field(description="Agents in this department.")
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- agents


class AgentUpdate(_Patch):
    departments: list[DepartmentId] | None = Field(
        default=None,
        max_length=AGENT_DEPARTMENTS_MAX,
        description="The full list of the agent's departments (each must exist).",
    )
    capacity: Annotated[StrictInt, Field(ge=0, le=AGENT_CAPACITY_MAX)] | None = Field(
        default=None, description="Open conversations the agent may hold at once."
    )

    @model_validator(mode="after")
    def _required_not_null(self) -> AgentUpdate:
        _no_nulls(self, "departments", "capacity")
        return self


class StatusIn(Strict):
    status: AgentStatus = Field(
        description="Also the heartbeat: dashboards re-send it about every 30 s; without it an "
        "online or away agent becomes offline by itself."
    )


class AgentOut(BaseModel):
    user_id: str
    role: Literal["admin", "agent"]
    status: AgentStatus = Field(description="Effective presence: an expired heartbeat is offline.")
    departments: list[str]
    capacity: int
    open_count: int
    available: bool = Field(description="Online and under capacity: can take a conversation.")
    last_heartbeat_at: str | None
    presence_expires_at: str | None
    last_assigned_at: str | None
    created_at: str | None


# ---------------------------------------------------------------- labels


class LabelCreate(Strict):
    name: LabelName = Field(description="Unique in the workspace, ignoring case.")
    color: Color = "#64748B"


class LabelUpdate(_Patch):
    name: LabelName | None = None
    color: Color | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> LabelUpdate:
        _no_nulls(self, "name", "color")
        return self


class LabelOut(BaseModel):
    id: str
    name: str
    color: str
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- canned responses


class CannedCreate(Strict):
    shortcut: Shortcut = Field(description="Unique in the workspace; `/refund` is stored `refund`.")
    title: CannedTitle
    content: CannedContent


class CannedUpdate(_Patch):
    shortcut: Shortcut | None = None
    title: CannedTitle | None = None
    content: CannedContent | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> CannedUpdate:
        _no_nulls(self, "shortcut", "title", "content")
        return self


class CannedOut(BaseModel):
    id: str
    shortcut: str
    title: str
    content: str
    created_at: str
    updated_at: str
