"""The privacy request state machine: routing, who may do what, deadlines, scrubbing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from yoosr.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yoosr.privacy import lifecycle
from yoosr.privacy.lifecycle import (
    EDGES,
    Actor,
    Event,
    EventName,
    PrivacyRequest,
    RequestType,
    Source,
    Status,
    extend,
    flag_overdue,
    is_overdue,
    open_request,
    transition,
)
from yoosr.privacy.subject import Subject

KEY = "test-subject-key"
WS = "ws_A"
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
VISITOR = Actor(kind="visitor", id="h" * 64, workspace_id=WS)
ADMIN = Actor(kind="admin", id="user_admin", workspace_id=WS)
AGENT = Actor(kind="agent", id="user_agent", workspace_id=WS)
SYSTEM = Actor(kind="system", id="privacy_worker", workspace_id=WS)
EMAIL = Subject.of(KEY, "email", "Ada@Example.com")
VISITOR_SUBJECT = Subject.of(KEY, "visitor", "vis_01")
WORKSPACE = Subject.of(KEY, "workspace", WS)


def email_request(request_type: RequestType = "delete") -> PrivacyRequest:
    return open_request("pr_1", WS, request_type, "widget_email", EMAIL, VISITOR, NOW)


def session_request(request_type: RequestType = "delete") -> PrivacyRequest:
    return open_request("pr_2", WS, request_type, "widget_session", VISITOR_SUBJECT, VISITOR, NOW)


def admin_request(request_type: RequestType = "export") -> PrivacyRequest:
    return open_request("pr_3", WS, request_type, "admin", EMAIL.scrubbed(), ADMIN, NOW)


def purge_request() -> PrivacyRequest:
    return open_request("pr_4", WS, "workspace_deletion", "admin", WORKSPACE, ADMIN, NOW)


def act(
    request: PrivacyRequest, name: EventName, actor: Actor, at: datetime = NOW, **details: object
) -> PrivacyRequest:
    return transition(request, Event(name=name, actor=actor, **details), at)


# ---------------------------------------------------------------- vocabulary


def test_statuses_are_exactly_the_api_contract() -> None:
    api = [
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
    assert list(get_args(Status)) == api


def test_every_edge_joins_known_statuses_and_events() -> None:
    statuses, events = set(get_args(Status)), set(get_args(EventName))
    for frm, event, to in EDGES:
        assert frm in statuses and to in statuses and event in events
    assert set(lifecycle.EVENT_ACTORS) == events
    assert all("agent" not in kinds for kinds in lifecycle.EVENT_ACTORS.values())


# ---------------------------------------------------------------- creation and routing


@pytest.mark.parametrize(
    ("source", "request_type", "status"),
    [
        ("widget_email", "export", "awaiting_verification"),
        ("widget_email", "delete", "awaiting_verification"),
        ("widget_session", "delete", "queued"),
        ("widget_session", "export", "queued"),
        ("admin", "delete", "queued"),
        ("admin", "correct", "queued"),
    ],
)
def test_submit_routes_by_source(source: Source, request_type: RequestType, status: str) -> None:
    actor = ADMIN if source == "admin" else VISITOR
    subject = VISITOR_SUBJECT if source == "widget_session" else EMAIL
    changes = {"name": "Ada L."} if request_type == "correct" else None
    request = open_request("pr_9", WS, request_type, source, subject, actor, NOW, changes=changes)
    assert request.status == status
    assert request.version == 1
    assert request.created_at == NOW
    assert request.due_at == datetime(2030, 2, 9, 12, 0, tzinfo=UTC)


def test_verification_sends_erasure_to_approval_and_the_rest_to_the_queue() -> None:
    delete = act(email_request("delete"), "verify", VISITOR)
    export = act(email_request("export"), "verify", VISITOR)
    assert (delete.status, export.status) == ("awaiting_approval", "queued")
    approved = act(delete, "approve", ADMIN, NOW + timedelta(hours=1))
    assert approved.status == "queued"
    assert approved.decided_by == "user_admin"
    assert approved.decided_at == NOW + timedelta(hours=1)
    assert approved.version == 3


def test_agents_never_create_or_decide() -> None:
    with pytest.raises(Forbidden) as created:
        open_request("pr_x", WS, "delete", "admin", EMAIL, AGENT, NOW)
    assert created.value.error_code == "admin_only"
    waiting = act(email_request("delete"), "verify", VISITOR)
    for name in ("approve", "deny", "cancel"):
        with pytest.raises(Forbidden) as decided:
            act(waiting, name, AGENT, reason="other")
        assert decided.value.error_code == "admin_only"
    with pytest.raises(Forbidden) as extended:
        extend(waiting, AGENT, 10, "complexity", NOW)
    assert extended.value.error_code == "admin_only"
    with pytest.raises(Forbidden) as visitor_decides:
        act(waiting, "approve", VISITOR)
    assert visitor_decides.value.error_code == "not_allowed"


@pytest.mark.parametrize(
    ("actor", "source", "request_type", "error"),
    [
        (VISITOR, "admin", "delete", Forbidden),
        (ADMIN, "widget_session", "delete", Forbidden),
        (VISITOR, "widget_email", "correct", ValidationFailed),
        (VISITOR, "widget_session", "workspace_deletion", ValidationFailed),
        (VISITOR, "widget_email", "delete_conversation", ValidationFailed),
    ],
)
def test_sources_allow_only_their_types(
    actor: Actor, source: Source, request_type: RequestType, error: type[Exception]
) -> None:
    with pytest.raises(error):
        open_request("pr_x", WS, request_type, source, EMAIL, actor, NOW)


def test_request_details_are_required_exactly_where_they_belong() -> None:
    with pytest.raises(ValidationFailed) as missing:
        open_request("pr_x", WS, "delete_conversation", "admin", EMAIL, ADMIN, NOW)
    assert [d["field"] for d in missing.value.details] == ["conversation_id"]
    with pytest.raises(ValidationFailed) as unneeded:
        open_request("pr_x", WS, "delete", "admin", EMAIL, ADMIN, NOW, changes={"name": "x"})
    assert [d["field"] for d in unneeded.value.details] == ["changes"]
    with pytest.raises(ValidationFailed) as no_address:
        open_request("pr_x", WS, "export", "widget_email", EMAIL.scrubbed(), VISITOR, NOW)
    assert [d["field"] for d in no_address.value.details] == ["email"]
    with pytest.raises(ValidationFailed) as wrong_subject:
        open_request("pr_x", WS, "workspace_deletion", "admin", EMAIL, ADMIN, NOW)
    assert [d["field"] for d in wrong_subject.value.details] == ["subject"]


def test_another_workspace_or_another_visitor_sees_nothing() -> None:
    request = email_request()
    with pytest.raises(NotFound):
        act(request, "cancel", Actor(kind="admin", id="user_admin", workspace_id="ws_B"))
    with pytest.raises(NotFound):
        act(request, "verify", Actor(kind="visitor", id="k" * 64, workspace_id=WS))
    with pytest.raises(NotFound):
        open_request("pr_x", "ws_B", "export", "admin", EMAIL, ADMIN, NOW)


# ---------------------------------------------------------------- the table, exhaustively

_ACTOR_FOR: dict[str, Actor] = {
    "submit": VISITOR,
    "verify": VISITOR,
    "approve": ADMIN,
    "deny": ADMIN,
    "cancel": ADMIN,
    "retry": ADMIN,
    "lapse": SYSTEM,
    "start": SYSTEM,
    "complete": SYSTEM,
    "fail": SYSTEM,
}


@pytest.mark.parametrize("status", get_args(Status))
@pytest.mark.parametrize("event", get_args(EventName))
def test_only_moves_in_the_table_are_allowed(status: Status, event: EventName) -> None:
    # Given an email-linked erasure in `status` (submit and verify then have one target each)
    request = email_request("delete").model_copy(update={"status": status})
    targets = {to for frm, name, to in EDGES if frm == status and name == event}
    reason = "other" if event == "deny" else None
    replayed = lifecycle._REPLAYS.get(event) == status
    # When the allowed actor sends the event
    if not targets and not replayed:
        with pytest.raises(Conflict) as refused:
            act(request, event, _ACTOR_FOR[event], reason=reason)
        assert refused.value.error_code == "invalid_transition"
        return
    moved = act(request, event, _ACTOR_FOR[event], reason=reason)
    # Then it lands where the table says (or, replayed, changes nothing)
    if replayed:
        assert moved is request
    else:
        assert moved.status in targets
        assert moved.version == request.version + 1


# ---------------------------------------------------------------- running and closing


def test_a_job_runs_to_completion_and_drops_raw_identifiers() -> None:
    queued = act(email_request("export"), "verify", VISITOR)
    assert queued.subject.value == "Ada@Example.com"
    started = act(queued, "start", SYSTEM)
    assert started.status == "in_progress"
    assert started.subject.value is None
    assert started.subject.hash == EMAIL.hash
    done = act(started, "complete", SYSTEM, NOW + timedelta(minutes=5), counts={"messages": 7})
    assert done.status == "completed"
    assert done.counts == {"messages": 7}
    assert done.completed_at == done.closed_at == NOW + timedelta(minutes=5)
    # A redelivered completion changes nothing
    assert act(done, "complete", SYSTEM, NOW + timedelta(days=1), counts={"messages": 1}) is done
    assert act(started, "start", SYSTEM) is started


def test_denial_needs_a_reason_code_and_keeps_the_note_for_the_subject() -> None:
    waiting = act(email_request("delete"), "verify", VISITOR)
    with pytest.raises(ValidationFailed):
        act(waiting, "deny", ADMIN)
    with pytest.raises(ValidationFailed):
        act(waiting, "deny", ADMIN, reason="because I say so")
    denied = act(waiting, "deny", ADMIN, reason="legal_obligation", note="Invoices are kept.")
    assert (denied.status, denied.reason, denied.note) == (
        "denied",
        "legal_obligation",
        "Invoices are kept.",
    )
    assert denied.subject.value is None
    assert denied.closed_at == NOW
    assert denied.completed_at is None


def test_a_correction_forgets_its_new_values_when_it_closes() -> None:
    request = open_request(
        "pr_c", WS, "correct", "admin", EMAIL, ADMIN, NOW, changes={"name": "Ada Lovelace"}
    )
    running = act(request, "start", SYSTEM)
    assert running.changes == {"name": "Ada Lovelace"}
    assert act(running, "complete", SYSTEM).changes is None


def test_a_failed_request_keeps_what_a_retry_needs() -> None:
    failed = act(session_request(), "fail", SYSTEM, reason="task_poison")
    assert (failed.status, failed.reason) == ("failed", "task_poison")
    assert failed.subject.value == "vis_01"
    retried = act(failed, "retry", ADMIN)
    assert (retried.status, retried.reason) == ("queued", None)
    cancelled = act(failed, "cancel", ADMIN, reason="admin_cancelled")
    assert (cancelled.status, cancelled.subject.value) == ("cancelled", None)


def test_a_visitor_cancels_their_own_waiting_request() -> None:
    cancelled = act(email_request(), "cancel", VISITOR, reason="visitor_cancelled")
    assert cancelled.status == "cancelled"
    lapsed = act(email_request(), "lapse", SYSTEM, reason="code_expired")
    assert (lapsed.status, lapsed.reason) == ("cancelled", "code_expired")


# ---------------------------------------------------------------- workspace deletion


def test_workspace_deletion_waits_thirty_days_and_is_cancellable_until_then() -> None:
    request = purge_request()
    assert request.status == "queued"
    assert request.not_before == NOW + timedelta(days=30)
    assert request.due_at == NOW + timedelta(days=32)
    day_29 = NOW + timedelta(days=29, hours=23)
    with pytest.raises(Conflict) as early:
        act(request, "start", SYSTEM, day_29)
    assert early.value.error_code == "purge_not_due"
    assert act(request, "cancel", ADMIN, day_29).status == "cancelled"
    day_30 = NOW + timedelta(days=30)
    with pytest.raises(Conflict) as late:
        act(request, "cancel", ADMIN, day_30)
    assert late.value.error_code == "deletion_not_cancellable"
    assert act(request, "start", SYSTEM, day_30).status == "in_progress"


# ---------------------------------------------------------------- deadline


def test_one_extension_before_the_deadline_for_a_stated_reason() -> None:
    request = admin_request()
    extended = extend(request, ADMIN, 60, "complexity", NOW + timedelta(days=29))
    assert extended.due_at == NOW + timedelta(days=90)
    assert extended.extension is not None
    assert (extended.extension.days, extended.extension.reason, extended.extension.by) == (
        60,
        "complexity",
        "user_admin",
    )
    assert extended.version == request.version + 1
    with pytest.raises(Conflict) as twice:
        extend(extended, ADMIN, 1, "complexity", NOW)
    assert twice.value.error_code == "already_extended"
    with pytest.raises(Conflict) as late:
        extend(request, ADMIN, 10, "complexity", request.due_at)
    assert late.value.error_code == "deadline_passed"
    with pytest.raises(ValidationFailed):
        extend(request, ADMIN, 61, "complexity", NOW)
    with pytest.raises(ValidationFailed):
        extend(request, ADMIN, 0, "complexity", NOW)
    with pytest.raises(ValidationFailed):
        extend(request, ADMIN, 10, "holidays", NOW)
    with pytest.raises(Conflict) as purge:
        extend(purge_request(), ADMIN, 10, "complexity", NOW)
    assert purge.value.error_code == "not_extendable"
    closed = act(act(request, "start", SYSTEM), "complete", SYSTEM)
    with pytest.raises(Conflict):
        extend(closed, ADMIN, 10, "complexity", NOW)


def test_overdue_after_the_deadline_while_unanswered() -> None:
    request = admin_request()
    assert not is_overdue(request, request.due_at)
    late = request.due_at + timedelta(seconds=1)
    assert is_overdue(request, late)
    flagged = flag_overdue(request, late)
    assert flagged.overdue is True
    assert flagged.version == request.version + 1
    assert flag_overdue(flagged, late + timedelta(days=1)) is flagged
    assert flag_overdue(request, request.due_at) is request
    done = act(act(request, "start", SYSTEM), "complete", SYSTEM)
    assert not is_overdue(done, late)
    failed = act(request, "fail", SYSTEM, reason="task_poison")
    assert is_overdue(failed, late)
