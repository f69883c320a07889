"""Privacy API bodies (API.md: widget privacy requests, /v1/privacy/requests, workspace
deletion). Raw identifiers are never echoed back: a request shows its subject's kind only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from yoosr.models.common import Strict
from yoosr.models.widget import CLIENT_ID_PATTERN, Email, Name, Phone
from yoosr.privacy.lifecycle import (
    MAX_EXTENSION_DAYS,
    DenyReason,
    ExtensionReason,
    RequestType,
    Source,
    Status,
)

CONVERSATION_ID_PATTERN = r"^conv_[0-9A-HJKMNP-TV-Z]{26}$"
VISITOR_ID_PATTERN = r"^vis_[0-9A-HJKMNP-TV-Z]{26}$"
REASON_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

WidgetType = Literal[
    "access", "export", "delete", "restrict", "lift_restriction", "object", "under_16_report"
]
AdminType = Literal[
    "access",
    "export",
    "delete",
    "correct",
    "restrict",
    "lift_restriction",
    "object",
    "under_16_report",
    "delete_conversation",
]


# ---------------------------------------------------------------- widget


class WidgetRequestIn(Strict):
    """`type` about this session's data; with `email`, about everything linked to that address
    once the code sent there is entered (an erasure then also waits for an admin)."""

    type: WidgetType
    email: Email | None = None
    client_request_id: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="Idempotency: the same id returns the request it first created (200).",
    )


class VerifyIn(Strict):
    code: str = Field(min_length=1, max_length=20, description="The 6-digit code emailed")


# ---------------------------------------------------------------- dashboard


class SubjectIn(Strict):
    """Exactly one of email, phone or visitor_id."""

    email: Email | None = None
    phone: Phone | None = None
    visitor_id: str | None = Field(default=None, pattern=VISITOR_ID_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> SubjectIn:
        given = [name for name in ("email", "phone", "visitor_id") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of email, phone, visitor_id")
        return self


class CorrectionIn(Strict):
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CorrectionIn:
        if not any(getattr(self, name) for name in ("name", "email", "phone")):
            raise ValueError("give at least one of name, email, phone")
        return self


class AdminRequestIn(Strict):
    """`restrict` with `lift: true` lifts a restriction; `correct` takes `changes`;
    `delete_conversation` takes `conversation_id` (or use DELETE /v1/conversations/{id})."""

    type: AdminType
    subject: SubjectIn | None = None
    changes: CorrectionIn | None = None
    conversation_id: str | None = Field(default=None, pattern=CONVERSATION_ID_PATTERN)
    lift: bool = False

    @model_validator(mode="after")
    def _shape(self) -> AdminRequestIn:
        if self.type == "delete_conversation":
            if self.conversation_id is None:
                raise ValueError("delete_conversation needs conversation_id")
        elif self.subject is None:
            raise ValueError("subject is required")
        if (self.type == "correct") != (self.changes is not None):
            raise ValueError("changes is required for, and only for, correct")
        if self.lift and self.type != "restrict":
            raise ValueError("lift applies to restrict only")
        return self

    @property
    def request_type(self) -> RequestType:
        return "lift_restriction" if self.lift else self.type


class DenyIn(Strict):
    reason: DenyReason
    note: str | None = Field(default=None, max_length=1000, description="Told to the subject")


class ExtendIn(Strict):
    days: int = Field(ge=1, le=MAX_EXTENSION_DAYS)
    reason: ExtensionReason


class CancelIn(Strict):
    reason: str | None = Field(default=None, pattern=REASON_PATTERN)


# ---------------------------------------------------------------- responses


class ExtensionOut(BaseModel):
    days: int
    reason: ExtensionReason
    at: str


class VerificationOut(BaseModel):
    code_expires_at: str
    attempts_left: int
    resends_left: int


class PrivacyRequestOut(BaseModel):
    id: str
    type: RequestType
    status: Status
    source: Source
    subject_kind: str
    conversation_id: str | None = None
    created_at: str
    due_at: str
    not_before: str | None = Field(
        default=None, description="Workspace deletion: cancellable until, purged after"
    )
    completed_at: str | None = None
    closed_at: str | None = None
    overdue: bool = False
    extension: ExtensionOut | None = None
    reason: str | None = None
    note: str | None = None
    decided_at: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    download_url: str | None = Field(
        default=None, description="The route that redirects to the package (exports, completed)"
    )
    verification: VerificationOut | None = None


class AuditEventOut(BaseModel):
    sequence: int
    at: str
    actor_kind: str
    actor: str
    action: str
    from_status: Status | None
    to_status: Status
    outcome: str
    reason: str | None
    counts: dict[str, int]


class TaskOut(BaseModel):
    task_id: str
    action: str
    store: str | None
    done: bool
    items: int
    pages: int


class PrivacyRequestDetail(PrivacyRequestOut):
    audit: list[AuditEventOut]
    tasks: list[TaskOut]
