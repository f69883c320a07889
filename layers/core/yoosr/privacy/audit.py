"""Audit events and erasure tombstones: the proof that outlives the data.

Every change of a privacy request appends one AuditEvent (who, what, when, counts, outcome),
written in the same transaction as the change and keyed by the request's new `version`, so a
retried write cannot append it twice. An event holds no personal data: the subject only as its
keyed hash (see yoosr.privacy.subject), a visitor actor only as "subject", reasons only as
codes (an admin's free-text note stays on the request), counts as numbers.

A Tombstone, written when an erasure completes, names the erased identity by the same keyed
hash: the widget refuses to silently recreate it, and after a backup restore the tombstones
are replayed to erase again what the restore brought back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yoosr.privacy.lifecycle import (
    ERASURE_TYPES,
    ActorKind,
    PrivacyRequest,
    RequestType,
    Status,
)
from yoosr.privacy.subject import SubjectKind

Action = Literal[
    "submit",
    "verify",
    "approve",
    "deny",
    "cancel",
    "lapse",
    "start",
    "complete",
    "fail",
    "retry",
    "extend",
    "flag_overdue",
]
Outcome = Literal["pending", "completed", "denied", "cancelled", "failed"]

_CODE = r"^[a-z][a-z0-9_.]{0,63}$"
_OUTCOMES: dict[Status, Outcome] = {
    "completed": "completed",
    "denied": "denied",
    "cancelled": "cancelled",
    "failed": "failed",
}


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    request_id: str
    sequence: int
    """The request's version after the change: one event per version."""
    at: AwareDatetime
    actor_kind: ActorKind
    actor: str
    """An admin's or agent's user id, a system component, or "subject" for the visitor."""
    action: Action
    request_type: RequestType
    from_status: Status | None
    to_status: Status
    outcome: Outcome
    reason: str | None = Field(default=None, pattern=_CODE)
    counts: dict[str, int] = Field(default_factory=dict)
    subject_kind: SubjectKind
    subject_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    due_at: AwareDatetime | None = None
    """The deadline in force after the change (analytics: completed on time or late)."""


def _reason(request: PrivacyRequest, action: Action) -> str | None:
    if action == "extend" and request.extension is not None:
        return request.extension.reason
    return request.reason if action in ("deny", "cancel", "lapse", "fail") else None


def _counts(request: PrivacyRequest, action: Action) -> dict[str, int]:
    if action == "extend" and request.extension is not None:
        return {"extension_days": request.extension.days}
    return dict(request.counts) if action == "complete" else {}


def record(
    before: PrivacyRequest | None,
    after: PrivacyRequest,
    action: Action,
    actor_kind: ActorKind,
    actor_id: str,
    at: AwareDatetime,
) -> AuditEvent:
    """The event for the change `before` → `after` (`before` None for a new request)."""
    if before is not None and after.version != before.version + 1:
        raise ValueError("an audit event records exactly one change")
    return AuditEvent(
        workspace_id=after.workspace_id,
        request_id=after.request_id,
        sequence=after.version,
        at=at,
        actor_kind=actor_kind,
        actor="subject" if actor_kind == "visitor" else actor_id,
        action=action,
        request_type=after.type,
        from_status=None if before is None else before.status,
        to_status=after.status,
        outcome=_OUTCOMES.get(after.status, "pending"),
        reason=_reason(after, action),
        counts=_counts(after, action),
        subject_kind=after.subject.kind,
        subject_hash=after.subject.hash,
        due_at=after.due_at,
    )


class Tombstone(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    subject_kind: SubjectKind
    subject_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    request_id: str
    erased_at: AwareDatetime


def tombstone(request: PrivacyRequest) -> Tombstone | None:
    """The tombstone a completed erasure leaves; None for anything else (including the
    erasure of one conversation, which leaves the visitor in place)."""
    if request.status != "completed" or request.completed_at is None:
        return None
    if request.type not in ERASURE_TYPES or request.type == "delete_conversation":
        return None
    return Tombstone(
        workspace_id=request.workspace_id,
        subject_kind=request.subject.kind,
        subject_hash=request.subject.hash,
        request_id=request.request_id,
        erased_at=request.completed_at,
    )
