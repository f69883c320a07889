"""Privacy use cases behind the widget and dashboard routes. Each change of a request is the
pure transition (yoosr.privacy.lifecycle) plus its audit event, written in one transaction
conditioned on the version read; work that takes time goes to the job queue (ids only).

Who may see a request: its workspace's admins, and the visitor who asked (by the keyed hash of
their visitor id). Another workspace's or another visitor's request is a 404.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from yoosr import clock, ids
from yoosr.dashboard.access import PENDING_DELETION, DashboardCaller
from yoosr.domain import hashing
from yoosr.errors import (
    Conflict,
    NotFound,
    RateLimited,
    TransactionCancelled,
    ValidationFailed,
)
from yoosr.models.common import Page
from yoosr.observability import count, logger
from yoosr.privacy import audit, lifecycle, otp
from yoosr.privacy.api import (
    AdminRequestIn,
    AuditEventOut,
    CancelIn,
    DenyIn,
    ExtendIn,
    ExtensionOut,
    PrivacyRequestDetail,
    PrivacyRequestOut,
    TaskOut,
    VerificationOut,
    WidgetRequestIn,
)
from yoosr.privacy.audit import Action
from yoosr.privacy.lifecycle import Actor, Event, EventName, PrivacyRequest
from yoosr.privacy.subject import Subject, SubjectKind
from yoosr.privacy.worker import start_message, system
from yoosr.routing import transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import (
    assignment,
    conversations,
    ddb,
    ephemeral,
    keys,
    privacy_email,
    privacy_exports,
    privacy_jobs,
    privacy_requests,
    privacy_stores,
    workspaces,
)
from yoosr.store.privacy_requests import Stored
from yoosr.store.secrets import get_secret
from yoosr.widget.auth import WidgetCaller

EMAIL_SUBJECT = "Your privacy request code"
CHECK_FAILED = "ConditionalCheckFailed"
DAY = 86_400


class PrivacyApiSettings(Protocol):
    privacy_requests_table: str
    privacy_exports_bucket: str
    privacy_jobs_queue_url: str
    subject_hash_key_secret: str
    secret_max_age_seconds: int
    download_url_seconds: int


@dataclass(frozen=True)
class Wiring:
    requests_table: str
    exports_bucket: str
    jobs_queue_url: str
    subject_key: Callable[[], str]
    download_seconds: int = 300

    @classmethod
    def of(cls, settings: PrivacyApiSettings) -> Wiring:
        """The resources of a function serving privacy routes (dashboard or widget)."""
        return cls(
            requests_table=settings.privacy_requests_table,
            exports_bucket=settings.privacy_exports_bucket,
            jobs_queue_url=settings.privacy_jobs_queue_url,
            subject_key=lambda: get_secret(
                settings.subject_hash_key_secret, settings.secret_max_age_seconds
            ),
            download_seconds=settings.download_url_seconds,
        )


@dataclass(frozen=True)
class WidgetLimits:
    ephemeral_table: str
    window_seconds: int
    visitor_writes: int
    ip_writes: int
    email_sends: int


# ---------------------------------------------------------------- shapes


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment is not None else None


def request_out(
    stored: Stored, download_path: str | None, code: otp.CodeRecord | None = None
) -> PrivacyRequestOut:
    request = stored.request
    downloadable = (
        request.status == "completed"
        and request.type in ("access", "export")
        and bool(stored.extra.get("package_key"))
    )
    verification = None
    if code is not None and request.status == "awaiting_verification":
        verification = VerificationOut(
            code_expires_at=clock.iso(code.expires_at),
            attempts_left=code.attempts_left,
            resends_left=max(0, otp.MAX_SENDS - code.sends),
        )
    extension = request.extension
    return PrivacyRequestOut(
        id=request.request_id,
        type=request.type,
        status=request.status,
        source=request.source,
        subject_kind=request.subject.kind,
        conversation_id=request.conversation_id,
        created_at=clock.iso(request.created_at),
        due_at=clock.iso(request.due_at),
        not_before=_iso(request.not_before),
        completed_at=_iso(request.completed_at),
        closed_at=_iso(request.closed_at),
        overdue=request.overdue,
        extension=(
            ExtensionOut(days=extension.days, reason=extension.reason, at=clock.iso(extension.at))
            if extension
            else None
        ),
        reason=request.reason,
        note=request.note,
        decided_at=_iso(request.decided_at),
        counts=dict(request.counts),
        download_url=download_path.format(request_id=request.request_id)
        if downloadable and download_path
        else None,
        verification=verification,
    )


ADMIN_DOWNLOAD = "/v1/privacy/requests/{request_id}/download"
WIDGET_DOWNLOAD = "/v1/widget/privacy-requests/{request_id}/download"


def _visible(stored: Stored | None, actor: Actor) -> Stored:
    if stored is None:
        raise NotFound("Privacy request not found.")
    request = stored.request
    if request.workspace_id != actor.workspace_id or (
        actor.kind == "visitor" and request.requested_by.id != actor.id
    ):
        raise NotFound("Privacy request not found.")
    return stored


def _read(wiring: Wiring, actor: Actor, request_id: str) -> Stored:
    if not ids.id_pattern("pr").match(request_id):
        raise NotFound("Privacy request not found.")
    return _visible(
        privacy_requests.get(wiring.requests_table, actor.workspace_id, request_id), actor
    )


def _enqueue_if_queued(wiring: Wiring, request: PrivacyRequest) -> None:
    if request.status == "queued":
        privacy_jobs.send(wiring.jobs_queue_url, [start_message(request)])


def _move(
    wiring: Wiring,
    stored: Stored,
    event: Event,
    action: Action,
    now: datetime,
    more: list[dict[str, Any]] | None = None,
) -> Stored:
    """Apply an event and write it with its audit event (version-conditioned)."""
    before = stored.request
    after = lifecycle.transition(before, event, now)
    if after is before:
        return stored
    record = audit.record(before, after, action, event.actor.kind, event.actor.id, now)
    moved = Stored(after, stored.extra)
    privacy_requests.change(wiring.requests_table, moved, stored, record, more)
    count(f"PrivacyRequests{action.title().replace('_', '')}")
    logger.info(
        "privacy request changed",
        extra={
            "request_id": after.request_id,
            "type": after.type,
            "action": action,
            "status": after.status,
        },
    )
    return moved


def _open(
    wiring: Wiring,
    request: PrivacyRequest,
    actor: Actor,
    now: datetime,
    more: list[dict[str, Any]] | None = None,
) -> Stored:
    event = audit.record(None, request, "submit", actor.kind, actor.id, now)
    stored = Stored(request)
    privacy_requests.change(wiring.requests_table, stored, None, event, more)
    count("PrivacyRequestsReceived")
    logger.info(
        "privacy request received",
        extra={"request_id": request.request_id, "type": request.type, "source": request.source},
    )
    return stored


# ---------------------------------------------------------------- widget


def visitor_actor(wiring: Wiring, caller: WidgetCaller) -> Actor:
    visitor_id = caller.require_visitor()
    hashed = hashing.subject_hash(wiring.subject_key(), "visitor", visitor_id)
    return Actor(kind="visitor", id=hashed, workspace_id=caller.workspace_id)


def _limit(limits: WidgetLimits, ws: str, dimension: str, subject: str, limit: int) -> None:
    hits, retry_after = ephemeral.count_hit(
        limits.ephemeral_table, ws, dimension, subject, limits.window_seconds
    )
    if hits > limit:
        logger.info("rate limited", extra={"dimension": dimension})
        count("RateLimited")
        raise RateLimited(retry_after)


def _limit_writes(wiring: Wiring, limits: WidgetLimits, caller: WidgetCaller) -> None:
    ws = caller.workspace_id
    _limit(limits, ws, "privacy_w", caller.require_visitor(), limits.visitor_writes)
    ip_key = hashing.keyed_hash(wiring.subject_key(), "ip", caller.client_ip)[:32]
    _limit(limits, ws, "privacy_ip", ip_key, limits.ip_writes)


def _limit_email(limits: WidgetLimits, ws: str, subject: Subject) -> None:
    hits, retry_after = ephemeral.count_hit(
        limits.ephemeral_table, ws, "privacy_email", subject.hash[:32], DAY
    )
    if hits > limits.email_sends:
        count("RateLimited")
        raise RateLimited(retry_after, "Too many codes were sent to this address today.")


def _send_code(sender: str, recipient: str, workspace_name: str, code: str) -> None:
    text = (
        f"Your code to confirm your privacy request to {workspace_name} is {code}.\n\n"
        f"It expires in {otp.CODE_TTL_MINUTES} minutes. If you did not ask for this, you can "
        "ignore this email: nothing happens without the code.\n"
    )
    privacy_email.send(sender, recipient, EMAIL_SUBJECT, text)
    count("PrivacyCodesSent")


def widget_create(
    wiring: Wiring,
    limits: WidgetLimits,
    email_from: str,
    caller: WidgetCaller,
    body: WidgetRequestIn,
    now: datetime,
) -> tuple[PrivacyRequestOut, bool]:
    """A visitor's request about this session's data, or (with `email`) about all data
    linked to that address, which waits for the code emailed there. Returns (request,
    created); a repeated client_request_id returns the first request."""
    actor = visitor_actor(wiring, caller)
    ws = caller.workspace_id
    if body.client_request_id:
        earlier = privacy_requests.client_request(
            wiring.requests_table, ws, actor.id, body.client_request_id
        )
        if earlier is not None:
            return widget_get(wiring, caller, earlier), False
    _limit_writes(wiring, limits, caller)
    key = wiring.subject_key()
    request_id = ids.new_id("pr")
    if body.email is not None:
        subject = Subject.of(key, "email", body.email)
        source: lifecycle.Source = "widget_email"
    else:
        subject = Subject.of(key, "visitor", caller.require_visitor())
        source = "widget_session"
    request = lifecycle.open_request(request_id, ws, body.type, source, subject, actor, now)
    more: list[dict[str, Any]] = []
    code = record = None
    if source == "widget_email":
        _limit_email(limits, ws, subject)
        code, record = otp.issue(key, request_id, now)
        more.append(
            privacy_requests.put(
                wiring.requests_table, privacy_requests.code_item(ws, request_id, record)
            )
        )
    if body.client_request_id:
        more.append(
            privacy_requests.claim_client_id(
                wiring.requests_table, ws, actor.id, body.client_request_id, request_id
            )
        )
    try:
        stored = _open(wiring, request, actor, now, more)
    except TransactionCancelled as cancelled:
        if body.client_request_id and cancelled.reasons[-1] == CHECK_FAILED:
            return widget_create(wiring, limits, email_from, caller, body, now)
        raise
    if code is not None and body.email is not None:
        _send_code(email_from, body.email, caller.workspace.name, code)
    _enqueue_if_queued(wiring, request)
    return request_out(stored, WIDGET_DOWNLOAD, record), True


def widget_get(wiring: Wiring, caller: WidgetCaller, request_id: str) -> PrivacyRequestOut:
    stored = _read(wiring, visitor_actor(wiring, caller), request_id)
    code = None
    if stored.request.status == "awaiting_verification":
        code = privacy_requests.get_code(wiring.requests_table, caller.workspace_id, request_id)
    return request_out(stored, WIDGET_DOWNLOAD, code)


def _lapse(wiring: Wiring, stored: Stored, reason: str, now: datetime) -> Stored:
    event = Event(name="lapse", actor=system(stored.request.workspace_id, "privacy"), reason=reason)
    return _move(wiring, stored, event, "lapse", now)


def widget_verify(
    wiring: Wiring,
    limits: WidgetLimits,
    caller: WidgetCaller,
    request_id: str,
    attempt: str,
    now: datetime,
) -> PrivacyRequestOut:
    """Check the code. Right: the request moves on (an erasure to an admin's approval).
    Wrong: 422 with the attempts left. Expired or out of attempts with no resend left: the
    request lapses (cancelled); with a resend left, 409 until a new code is asked for."""
    actor = visitor_actor(wiring, caller)
    stored = _read(wiring, actor, request_id)
    if stored.request.status != "awaiting_verification":
        if stored.request.source == "widget_email" and stored.request.status != "cancelled":
            return request_out(stored, WIDGET_DOWNLOAD)  # verified already: a retry
        raise Conflict("This request is not waiting for a code.", code="not_awaiting_code")
    _limit_writes(wiring, limits, caller)
    ws = caller.workspace_id
    record = privacy_requests.get_code(wiring.requests_table, ws, request_id)
    if record is None:
        _lapse(wiring, stored, "code_expired", now)
        raise Conflict("The code has expired; start a new request.", code="code_expired")
    updated, outcome = otp.verify(record, attempt, wiring.subject_key(), request_id, now)
    if outcome == "verified":
        code_write = privacy_requests.put(
            wiring.requests_table,
            privacy_requests.code_item(ws, request_id, updated),
            "attempts = :attempts",
            attempts=record.attempts,
        )
        moved = _move(
            wiring, stored, Event(name="verify", actor=actor), "verify", now, [code_write]
        )
        _enqueue_if_queued(wiring, moved.request)
        return request_out(moved, WIDGET_DOWNLOAD)
    if updated != record:
        privacy_requests.put_code(wiring.requests_table, ws, request_id, updated, record)
    if outcome == "wrong":
        raise ValidationFailed(
            "The code is not right.",
            code="code_incorrect",
            details=[
                {"field": "code", "message": "incorrect", "attempts_left": updated.attempts_left}
            ],
        )
    if outcome == "already_verified":
        return request_out(stored, WIDGET_DOWNLOAD)
    if updated.sends >= otp.MAX_SENDS:
        _lapse(wiring, stored, f"code_{outcome}", now)
        raise Conflict("No more codes for this request; start a new one.", code=f"code_{outcome}")
    raise Conflict(
        "The code has expired or was guessed too often; ask for a new one.",
        code=f"code_{outcome}",
    )


def widget_resend(
    wiring: Wiring,
    limits: WidgetLimits,
    email_from: str,
    caller: WidgetCaller,
    request_id: str,
    now: datetime,
) -> PrivacyRequestOut:
    """A new code (at most 3 per request, 60 s apart); the old one stops working."""
    actor = visitor_actor(wiring, caller)
    stored = _read(wiring, actor, request_id)
    request = stored.request
    if request.status != "awaiting_verification" or request.subject.value is None:
        raise Conflict("This request is not waiting for a code.", code="not_awaiting_code")
    _limit_writes(wiring, limits, caller)
    ws = caller.workspace_id
    previous = privacy_requests.get_code(wiring.requests_table, ws, request_id)
    if previous is None:
        _lapse(wiring, stored, "code_expired", now)
        raise Conflict("The request has lapsed; start a new one.", code="code_expired")
    _limit_email(limits, ws, request.subject)
    code, record = otp.issue(wiring.subject_key(), request_id, now, previous)
    privacy_requests.put_code(wiring.requests_table, ws, request_id, record, previous)
    _send_code(email_from, request.subject.value, caller.workspace.name, code)
    return request_out(stored, WIDGET_DOWNLOAD, record)


def _download(wiring: Wiring, stored: Stored) -> str:
    request = stored.request
    key = stored.extra.get("package_key")
    if request.type not in ("access", "export"):
        raise NotFound("This request has no package.")
    if request.status != "completed" or not key:
        raise Conflict("The package is not ready yet.", code="package_not_ready")
    if privacy_exports.head(wiring.exports_bucket, str(key)) is None:
        raise NotFound("The package has expired; ask for a new export.", code="package_expired")
    count("PrivacyDownloads")
    return privacy_exports.presigned_download(
        wiring.exports_bucket,
        str(key),
        wiring.download_seconds,
        f"yoosr-export-{request.request_id}.zip",
    )


def widget_download(wiring: Wiring, caller: WidgetCaller, request_id: str) -> str:
    return _download(wiring, _read(wiring, visitor_actor(wiring, caller), request_id))


# ---------------------------------------------------------------- dashboard


def admin_actor(caller: DashboardCaller) -> Actor:
    return Actor(kind=caller.role, id=caller.user_id, workspace_id=caller.workspace_id)


def _subject(wiring: Wiring, body: AdminRequestIn) -> Subject:
    given = body.subject
    assert given is not None  # AdminRequestIn requires it
    kind: SubjectKind
    if given.email:
        kind, value = "email", given.email
    elif given.phone:
        kind, value = "phone", given.phone
    else:
        kind, value = "visitor", str(given.visitor_id)
    return Subject.of(wiring.subject_key(), kind, value)


def admin_create(
    wiring: Wiring,
    tables: assignment.Tables,
    caller: DashboardCaller,
    body: AdminRequestIn,
    now: datetime,
) -> PrivacyRequestOut:
    """An admin's request on behalf of a subject they verified: it proceeds at once."""
    if body.type == "delete_conversation":
        assert body.conversation_id is not None  # AdminRequestIn requires it
        return delete_conversation(wiring, tables, caller, body.conversation_id, now)
    actor = admin_actor(caller)
    changes = body.changes.model_dump(exclude_none=True) if body.changes else None
    request = lifecycle.open_request(
        ids.new_id("pr"),
        caller.workspace_id,
        body.request_type,
        "admin",
        _subject(wiring, body),
        actor,
        now,
        changes=changes,
    )
    stored = _open(wiring, request, actor, now)
    _enqueue_if_queued(wiring, request)
    return request_out(stored, ADMIN_DOWNLOAD)


def admin_list(
    wiring: Wiring, caller: DashboardCaller, limit: int, cursor: str | None
) -> Page[PrivacyRequestOut]:
    found, following = privacy_requests.list_requests(
        wiring.requests_table, caller.workspace_id, limit, cursor
    )
    return Page[PrivacyRequestOut](
        items=[request_out(s, ADMIN_DOWNLOAD) for s in found], next_cursor=following
    )


def admin_get(wiring: Wiring, caller: DashboardCaller, request_id: str) -> PrivacyRequestDetail:
    stored = _read(wiring, admin_actor(caller), request_id)
    ws = caller.workspace_id
    events = privacy_requests.audit_of(wiring.requests_table, ws, request_id)
    planned = privacy_requests.tasks_of(wiring.requests_table, ws, request_id)
    return PrivacyRequestDetail(
        **request_out(stored, ADMIN_DOWNLOAD).model_dump(),
        audit=[
            AuditEventOut(
                sequence=e.sequence,
                at=clock.iso(e.at),
                actor_kind=e.actor_kind,
                actor=e.actor,
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                outcome=e.outcome,
                reason=e.reason,
                counts=dict(e.counts),
            )
            for e in events
        ],
        tasks=[
            TaskOut(
                task_id=t.task_id,
                action=t.action,
                store=t.store,
                done=t.done,
                items=t.items,
                pages=t.pages,
            )
            for t in planned
        ],
    )


def admin_decide(
    wiring: Wiring,
    caller: DashboardCaller,
    request_id: str,
    name: EventName,
    now: datetime,
    deny: DenyIn | None = None,
    cancel: CancelIn | None = None,
) -> PrivacyRequestOut:
    """approve, deny (with a reason code), cancel, retry."""
    actor = admin_actor(caller)
    stored = _read(wiring, actor, request_id)
    if stored.request.type == "workspace_deletion" and name == "cancel":
        raise Conflict(
            "Cancel a workspace deletion with DELETE /v1/workspace/deletion.",
            code="use_workspace_deletion",
        )
    reason = deny.reason if deny else (cancel.reason if cancel else None)
    if name == "cancel" and reason is None:
        reason = "admin_cancelled"
    event = Event(name=name, actor=actor, reason=reason, note=deny.note if deny else None)
    moved = _move(wiring, stored, event, name, now)
    _enqueue_if_queued(wiring, moved.request)
    return request_out(moved, ADMIN_DOWNLOAD)


def admin_extend(
    wiring: Wiring, caller: DashboardCaller, request_id: str, body: ExtendIn, now: datetime
) -> PrivacyRequestOut:
    """Push the deadline back once, before it passes, with Art. 12(3)'s reason (the subject
    is told through the request's status: `extension` with days and reason)."""
    actor = admin_actor(caller)
    stored = _read(wiring, actor, request_id)
    after = lifecycle.extend(stored.request, actor, body.days, body.reason, now)
    record = audit.record(stored.request, after, "extend", actor.kind, actor.id, now)
    moved = Stored(after, stored.extra)
    privacy_requests.change(wiring.requests_table, moved, stored, record)
    count("PrivacyRequestsExtended")
    return request_out(moved, ADMIN_DOWNLOAD)


def admin_download(wiring: Wiring, caller: DashboardCaller, request_id: str) -> str:
    return _download(wiring, _read(wiring, admin_actor(caller), request_id))


# ---------------------------------------------------------------- workspace deletion


def _workspace_item(table: str, ws: str) -> dict[str, Any]:
    item = workspaces.get_workspace(table, ws)
    if item is None:
        raise NotFound("Workspace not found.")
    return item


def schedule_workspace_deletion(
    wiring: Wiring, workspaces_table: str, caller: DashboardCaller, now: datetime
) -> tuple[PrivacyRequestOut, bool]:
    """Disable the workspace at once (widget keys, sessions and dashboards refused, except
    its admins' cancellation) and purge it once 30 days have passed. Asking again returns the
    pending deletion. Returns (request, created)."""
    ws = caller.workspace_id
    item = _workspace_item(workspaces_table, ws)
    if item.get("status") == PENDING_DELETION and item.get("deletion_request_id"):
        stored = _read(wiring, admin_actor(caller), str(item["deletion_request_id"]))
        return request_out(stored, ADMIN_DOWNLOAD), False
    actor = admin_actor(caller)
    request = lifecycle.open_request(
        ids.new_id("pr"),
        ws,
        "workspace_deletion",
        "admin",
        Subject.of(wiring.subject_key(), "workspace", ws),
        actor,
        now,
    )
    assert request.not_before is not None
    pk, sk = keys.workspace(ws)
    disable = {
        "Update": {
            "TableName": workspaces_table,
            "Key": ddb.key(pk, sk),
            "UpdateExpression": "SET #status = :pending, deletion_request_id = :rid, "
            "purge_after = :purge, updated_at = :now",
            # Only an active workspace: two admins asking at once schedule one deletion.
            "ConditionExpression": "#status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": ddb.values(
                pending=PENDING_DELETION,
                rid=request.request_id,
                purge=clock.iso(request.not_before),
                now=clock.iso(),
                active="active",
            ),
        }
    }
    try:
        stored = _open(wiring, request, actor, now, [disable])
    except TransactionCancelled as cancelled:
        if cancelled.reasons[-1] == CHECK_FAILED:
            return schedule_workspace_deletion(wiring, workspaces_table, caller, now)
        raise
    count("WorkspaceDeletionsScheduled")
    return request_out(stored, ADMIN_DOWNLOAD), True


def cancel_workspace_deletion(
    wiring: Wiring, workspaces_table: str, caller: DashboardCaller, now: datetime
) -> PrivacyRequestOut:
    """Before the purge date: the deletion is cancelled and the workspace works again."""
    ws = caller.workspace_id
    item = _workspace_item(workspaces_table, ws)
    request_id = item.get("deletion_request_id")
    if item.get("status") != PENDING_DELETION or not request_id:
        raise NotFound("No deletion is scheduled.", code="no_deletion_scheduled")
    actor = admin_actor(caller)
    stored = _read(wiring, actor, str(request_id))
    pk, sk = keys.workspace(ws)
    enable = {
        "Update": {
            "TableName": workspaces_table,
            "Key": ddb.key(pk, sk),
            "UpdateExpression": "SET #status = :active, updated_at = :now "
            "REMOVE deletion_request_id, purge_after",
            "ConditionExpression": "deletion_request_id = :rid",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": ddb.values(
                active="active", now=clock.iso(), rid=str(request_id)
            ),
        }
    }
    moved = _move(
        wiring,
        stored,
        Event(name="cancel", actor=actor, reason="admin_cancelled"),
        "cancel",
        now,
        [enable],
    )
    count("WorkspaceDeletionsCancelled")
    return request_out(moved, ADMIN_DOWNLOAD)


# ---------------------------------------------------------------- one conversation


def delete_conversation(
    wiring: Wiring,
    tables: assignment.Tables,
    caller: DashboardCaller,
    conversation_id: str,
    now: datetime,
) -> PrivacyRequestOut:
    """Delete one conversation for good: recorded as a request (audited), gone for everyone
    at once (resolved, so an agent's load and its queue entry are released, then hidden by a
    TTL in the past), deleted item by item by the job."""
    ws = caller.workspace_id
    if not ids.CONVERSATION_ID.match(conversation_id):
        raise NotFound("Conversation not found.")
    item = conversations.get(tables.conversations, ws, conversation_id)
    if item is None:
        raise NotFound("Conversation not found.")
    actor = admin_actor(caller)
    request = lifecycle.open_request(
        ids.new_id("pr"),
        ws,
        "delete_conversation",
        "admin",
        Subject.of(wiring.subject_key(), "visitor", str(item["visitor_id"])),
        actor,
        now,
        conversation_id=conversation_id,
    )
    stored = _open(wiring, request, actor, now)
    if item.get("status") == "open":
        with contextlib.suppress(NotFound):
            apply_transition(
                tables,
                ws,
                conversation_id,
                lambda before, _: transitions.resolve(before, caller.user_id, clock.iso(now)),
                item=item,
            )
    privacy_stores.hide_conversation(tables.conversations, ws, conversation_id, clock.epoch())
    _enqueue_if_queued(wiring, request)
    count("ConversationsDeleted")
    return request_out(stored, ADMIN_DOWNLOAD)
