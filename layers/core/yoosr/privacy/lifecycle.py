"""The privacy request state machine. Pure: the store writes the returned request with the
condition `version = <version it was computed from>`, so two concurrent decisions cannot both
win, and appends the audit event of the same transition in the same transaction.

Statuses are API.md's. A request is `received` only between construction and its `submit`
(`open_request` does both, so a stored request starts routed):

    received ──submit──▶ awaiting_verification   widget request naming an email address
    received ──submit──▶ queued                  the session's own data, or an admin request
    awaiting_verification ──verify──▶ awaiting_approval   erasure of email-linked data
    awaiting_verification ──verify──▶ queued              anything else
    awaiting_verification ──lapse───▶ cancelled           code expired or attempts used up
    awaiting_approval ──approve──▶ queued
    queued ──start──▶ in_progress ──complete──▶ completed
    queued | in_progress ──fail──▶ failed ──retry──▶ queued
    received | awaiting_verification | awaiting_approval ──deny──▶ denied
    received | awaiting_verification | awaiting_approval | queued | failed ──cancel──▶ cancelled

Rules:
- Who: agents never create or decide privacy requests. Visitors submit widget requests,
  verify and cancel their own; admins submit dashboard requests, approve, deny, extend, retry
  and cancel; the system (worker, schedule) starts, completes, fails and lapses. A request of
  another workspace, or another visitor's, is NotFound (never reveal existence).
- Queue deliveries are at least once: `start`, `complete`, `fail` and `lapse` on a request
  already in their target status return it unchanged. Any other move not in EDGES is a
  Conflict.
- Deadline: `due_at` = created + 30 days, counted from receipt (not from verification: the
  conservative reading). One extension, by an admin, before the deadline, of 1..60 days, for
  one of GDPR Art. 12(3)'s two reasons (complexity, number of requests); "two further
  months" is read as 60 days. A request still open after `due_at` is overdue; the flag stays
  set after it closes, as a record that the answer was late.
- Workspace deletion: cancellable during a 30-day grace (`not_before`), purged after it;
  due two days after the grace (a daily schedule plus one retry); never extended.
- Raw identifiers: the subject's raw value is kept only while the request waits (to send a
  code, to resolve visitor ids); it is dropped when the job starts (the tasks carry ids) or
  when the request closes. Correction values are dropped when it closes. A failed request
  keeps what it had, so a retry can proceed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yoosr.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yoosr.privacy.subject import Subject

RequestType = Literal[
    "access",
    "export",
    "correct",
    "delete",
    "restrict",
    "lift_restriction",
    "object",
    "delete_conversation",
    "workspace_deletion",
    "under_16_report",
]
Source = Literal["widget_session", "widget_email", "admin"]
Status = Literal[
    "received",
    "awaiting_verification",
    "awaiting_approval",
    "queued",
    "in_progress",
    "completed",
    "denied",
    "cancelled",
    "failed",
]
EventName = Literal[
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
]
ActorKind = Literal["visitor", "admin", "agent", "system"]
DenyReason = Literal[
    "identity_not_verified", "manifestly_unfounded", "excessive", "legal_obligation", "other"
]
ExtensionReason = Literal["complexity", "number_of_requests"]

RESPONSE_DAYS = 30
MAX_EXTENSION_DAYS = 60
WORKSPACE_GRACE_DAYS = 30
PURGE_DUE_DAYS_AFTER_GRACE = 2

ERASURE_TYPES: frozenset[RequestType] = frozenset(
    {"delete", "delete_conversation", "under_16_report", "workspace_deletion"}
)
TERMINAL: frozenset[Status] = frozenset({"completed", "denied", "cancelled"})
KEEPS_RAW_SUBJECT: frozenset[Status] = frozenset(
    {"received", "awaiting_verification", "awaiting_approval", "queued", "failed"}
)

TYPES_BY_SOURCE: dict[Source, frozenset[RequestType]] = {
    # The session proves the visitor: their own data, or one of their conversations.
    "widget_session": frozenset(
        {
            "access",
            "export",
            "delete",
            "delete_conversation",
            "restrict",
            "lift_restriction",
            "object",
            "under_16_report",
        }
    ),
    # Everything linked to an email address, once a code sent there is entered.
    "widget_email": frozenset(
        {"access", "export", "delete", "restrict", "lift_restriction", "object"}
    ),
    "admin": frozenset(get_args(RequestType)),
}

EDGES: frozenset[tuple[Status, EventName, Status]] = frozenset(
    {
        ("received", "submit", "awaiting_verification"),
        ("received", "submit", "queued"),
        ("awaiting_verification", "verify", "awaiting_approval"),
        ("awaiting_verification", "verify", "queued"),
        ("awaiting_verification", "lapse", "cancelled"),
        ("awaiting_approval", "approve", "queued"),
        ("queued", "start", "in_progress"),
        ("in_progress", "complete", "completed"),
        ("queued", "fail", "failed"),
        ("in_progress", "fail", "failed"),
        ("failed", "retry", "queued"),
        ("received", "deny", "denied"),
        ("awaiting_verification", "deny", "denied"),
        ("awaiting_approval", "deny", "denied"),
        ("received", "cancel", "cancelled"),
        ("awaiting_verification", "cancel", "cancelled"),
        ("awaiting_approval", "cancel", "cancelled"),
        ("queued", "cancel", "cancelled"),
        ("failed", "cancel", "cancelled"),
    }
)
"""Every allowed move: (from, event, to)."""

EVENT_ACTORS: dict[EventName, frozenset[ActorKind]] = {
    "submit": frozenset({"visitor", "admin"}),
    "verify": frozenset({"visitor"}),
    "approve": frozenset({"admin"}),
    "deny": frozenset({"admin"}),
    "cancel": frozenset({"visitor", "admin"}),
    "retry": frozenset({"admin"}),
    "lapse": frozenset({"system"}),
    "start": frozenset({"system"}),
    "complete": frozenset({"system"}),
    "fail": frozenset({"system"}),
}

_REPLAYS: dict[EventName, Status] = {
    "start": "in_progress",
    "complete": "completed",
    "fail": "failed",
    "lapse": "cancelled",
}
_ONLY_FOR = "required for, and only for, "
_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Actor(BaseModel):
    """Who acts. `id` is the Clerk user id of an admin or agent, the component name of the
    system, and for a visitor the keyed hash of their visitor id (never the raw id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str
    workspace_id: str


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: EventName
    actor: Actor
    reason: str | None = None
    """A machine code: DenyReason for `deny`; free codes (`visitor_cancelled`, `task_poison`
    …) for cancel, lapse and fail. Audited."""
    note: str | None = Field(default=None, max_length=1000)
    """An admin's words to the subject (deny). Kept on the request, never audited."""
    counts: dict[str, int] = Field(default_factory=dict)
    """`complete`: items exported or erased per store."""


class Extension(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int
    reason: ExtensionReason
    by: str
    at: AwareDatetime


class PrivacyRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    workspace_id: str
    type: RequestType
    source: Source
    status: Status = "received"
    subject: Subject
    requested_by: Actor
    conversation_id: str | None = None
    changes: dict[str, str] | None = None
    created_at: AwareDatetime
    due_at: AwareDatetime
    not_before: AwareDatetime | None = None
    extension: Extension | None = None
    overdue: bool = False
    reason: str | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL


# ---------------------------------------------------------------- who may do what


def authorize_create(actor: Actor, request_type: RequestType, source: Source) -> None:
    """Agents never create; visitors create widget requests, admins dashboard requests."""
    if actor.kind == "agent":
        raise Forbidden("Only admins handle privacy requests.", code="admin_only")
    expected: ActorKind = "admin" if source == "admin" else "visitor"
    if actor.kind != expected:
        raise Forbidden("This source is not open to you.", code="wrong_source")
    if request_type not in TYPES_BY_SOURCE[source]:
        raise ValidationFailed(
            "This request type cannot be asked this way.",
            details=[{"field": "type", "message": f"not allowed from {source}"}],
        )


def authorize(request: PrivacyRequest, actor: Actor, event: EventName) -> None:
    """Another workspace's or another visitor's request is NotFound; a known request the
    actor may not move is Forbidden."""
    if actor.workspace_id != request.workspace_id:
        raise NotFound()
    if actor.kind == "visitor" and actor.id != request.requested_by.id:
        raise NotFound()
    if actor.kind == "agent":
        raise Forbidden("Only admins handle privacy requests.", code="admin_only")
    if actor.kind not in EVENT_ACTORS[event]:
        raise Forbidden(f"A {actor.kind} cannot {event} a privacy request.", code="not_allowed")


# ---------------------------------------------------------------- creation


def initial_status(source: Source) -> Status:
    """Where `submit` sends a request: an email-linked widget request waits for its code;
    the session's own data and anything an admin creates proceed."""
    return "awaiting_verification" if source == "widget_email" else "queued"


def status_after_verification(request_type: RequestType) -> Status:
    """Where `verify` sends an email-linked widget request: erasure waits for an admin."""
    return "awaiting_approval" if request_type in ERASURE_TYPES else "queued"


def open_request(
    request_id: str,
    workspace_id: str,
    request_type: RequestType,
    source: Source,
    subject: Subject,
    actor: Actor,
    now: AwareDatetime,
    *,
    conversation_id: str | None = None,
    changes: dict[str, str] | None = None,
) -> PrivacyRequest:
    """A new request, already submitted (routed to its first waiting status)."""
    authorize_create(actor, request_type, source)
    if actor.workspace_id != workspace_id:
        raise NotFound()
    problems = []
    if (request_type == "delete_conversation") != (conversation_id is not None):
        problems.append({"field": "conversation_id", "message": _ONLY_FOR + "delete_conversation"})
    if (request_type == "correct") != bool(changes):
        problems.append({"field": "changes", "message": _ONLY_FOR + "correct"})
    if (request_type == "workspace_deletion") != (subject.kind == "workspace"):
        problems.append({"field": "subject", "message": "a workspace, for workspace_deletion"})
    if source == "widget_email" and (subject.kind != "email" or subject.value is None):
        problems.append({"field": "email", "message": "the address the code is sent to"})
    if problems:
        raise ValidationFailed(details=problems)
    not_before = None
    due_at = now + timedelta(days=RESPONSE_DAYS)
    if request_type == "workspace_deletion":
        not_before = now + timedelta(days=WORKSPACE_GRACE_DAYS)
        due_at = not_before + timedelta(days=PURGE_DUE_DAYS_AFTER_GRACE)
    received = PrivacyRequest(
        request_id=request_id,
        workspace_id=workspace_id,
        type=request_type,
        source=source,
        subject=subject,
        requested_by=actor,
        conversation_id=conversation_id,
        changes=changes,
        created_at=now,
        due_at=due_at,
        not_before=not_before,
    )
    return transition(received, Event(name="submit", actor=actor), now)


# ---------------------------------------------------------------- transitions


def _target(request: PrivacyRequest, event: Event) -> Status | None:
    """The status `event` leads to from here, or None when it is not a move from here."""
    if event.name == "submit":
        wanted: Status = initial_status(request.source)
    elif event.name == "verify":
        wanted = status_after_verification(request.type)
    else:
        targets = [to for frm, name, to in EDGES if frm == request.status and name == event.name]
        return targets[0] if targets else None
    return wanted if (request.status, event.name, wanted) in EDGES else None


def _check_event(request: PrivacyRequest, event: Event, now: AwareDatetime) -> None:
    if event.name == "deny" and event.reason not in get_args(DenyReason):
        raise ValidationFailed(
            details=[{"field": "reason", "message": f"one of {', '.join(get_args(DenyReason))}"}]
        )
    if event.reason is not None and not _REASON_CODE.match(event.reason):
        raise ValidationFailed(details=[{"field": "reason", "message": "a lowercase code"}])
    if request.type == "workspace_deletion" and request.not_before is not None:
        if event.name == "start" and now < request.not_before:
            raise Conflict("The grace period has not ended.", code="purge_not_due")
        if event.name == "cancel" and now >= request.not_before:
            raise Conflict("The purge has begun.", code="deletion_not_cancellable")


def transition(request: PrivacyRequest, event: Event, now: AwareDatetime) -> PrivacyRequest:
    """Apply `event`: the request in its new status with `version` + 1, or the same request
    for a replayed system event. Raises NotFound / Forbidden (see `authorize`), Conflict for
    a move not in EDGES, ValidationFailed for a missing or malformed reason."""
    authorize(request, event.actor, event.name)
    if _REPLAYS.get(event.name) == request.status:
        return request
    target = _target(request, event)
    if target is None:
        raise Conflict(
            f"A request that is {request.status} cannot {event.name}.",
            code="invalid_transition",
        )
    _check_event(request, event, now)
    update: dict[str, object] = {"status": target, "version": request.version + 1}
    if event.name in ("approve", "deny"):
        update |= {"decided_by": event.actor.id, "decided_at": now}
    if event.name in ("deny", "cancel", "lapse", "fail"):
        update |= {"reason": event.reason, "note": event.note}
    if event.name == "retry":
        update |= {"reason": None}
    if event.name == "complete":
        update |= {"counts": dict(event.counts), "completed_at": now}
    if target in TERMINAL:
        update |= {"closed_at": now, "changes": None}
    if target not in KEEPS_RAW_SUBJECT:
        update |= {"subject": request.subject.scrubbed()}
    return request.model_copy(update=update)


# ---------------------------------------------------------------- deadline


def extend(
    request: PrivacyRequest,
    actor: Actor,
    days: int,
    reason: ExtensionReason,
    now: AwareDatetime,
) -> PrivacyRequest:
    """Push `due_at` back once, before it passes (GDPR Art. 12(3)); the subject must be told
    why within the first month, which the caller does."""
    authorize(request, actor, "approve")  # the same people who decide may extend
    if not request.is_open:
        raise Conflict("The request is closed.", code="request_closed")
    if request.type == "workspace_deletion":
        raise Conflict("A workspace purge date is not extended.", code="not_extendable")
    if request.extension is not None:
        raise Conflict("The request was extended already.", code="already_extended")
    if now >= request.due_at:
        raise Conflict("The deadline has passed.", code="deadline_passed")
    problems = []
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        problems.append({"field": "days", "message": f"1 to {MAX_EXTENSION_DAYS}"})
    if reason not in get_args(ExtensionReason):
        problems.append({"field": "reason", "message": "complexity or number_of_requests"})
    if problems:
        raise ValidationFailed(details=problems)
    return request.model_copy(
        update={
            "due_at": request.due_at + timedelta(days=days),
            "extension": Extension(days=days, reason=reason, by=actor.id, at=now),
            "version": request.version + 1,
        }
    )


def is_overdue(request: PrivacyRequest, now: AwareDatetime) -> bool:
    """Still unanswered after its deadline (a failed request is unanswered)."""
    return request.is_open and now > request.due_at


def flag_overdue(request: PrivacyRequest, now: AwareDatetime) -> PrivacyRequest:
    """The daily check: set `overdue` once; unchanged when not overdue or already flagged."""
    if request.overdue or not is_overdue(request, now):
        return request
    return request.model_copy(update={"overdue": True, "version": request.version + 1})
