"""The daily privacy check (PrivacyScheduleFunction), over the sparse index of open requests
(never a scan):

    overdue      an open request past its due date is flagged once (audited) and counted in
                 the PrivacyRequestsOverdue metric (every open overdue request, every day)
    purge        a workspace deletion whose grace period ended is started
    lapse        a request waiting for its code, whose code expired more than LAPSE_AFTER ago
                 (or was used up) with no resend left, is cancelled
    stalled      a queued request nobody started, or a started one whose tasks stopped moving,
                 is enqueued again (tasks are idempotent)
    retention    then, with the time left, the retention sweep (yoosr.privacy.retention):
                 conversations past their retention TTL that DynamoDB has not removed yet
                 are deleted with all their items

and, on demand (`{"command": "replay_tombstones"}`), the tombstone replay after a backup
restore: each tombstone becomes a new erasure request, run by the worker like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from yoosr import clock, ids
from yoosr.errors import Conflict
from yoosr.observability import count, logger
from yoosr.privacy import audit, lifecycle, otp, retention, tasks
from yoosr.privacy.lifecycle import Actor, Event, PrivacyRequest
from yoosr.privacy.subject import Subject
from yoosr.privacy.worker import start_message, system
from yoosr.store import privacy_jobs, privacy_requests
from yoosr.store.privacy_requests import Stored

COMPONENT = "privacy_schedule"
LAPSE_AFTER = timedelta(hours=1)
REPLAY_ACTOR = "tombstone_replay"


@dataclass
class Report:
    open: int = 0
    overdue: int = 0
    flagged: int = 0
    purges_started: int = 0
    lapsed: int = 0
    requeued: int = 0
    replayed: int = 0
    stopped_early: bool = False
    errors: list[str] = field(default_factory=list)
    retention: dict[str, Any] | None = None
    """The retention sweep's report (counts), when it ran."""


def _write(
    table: str, stored: Stored, after: PrivacyRequest, action: audit.Action, now: datetime
) -> None:
    record = audit.record(stored.request, after, action, "system", COMPONENT, now)
    privacy_requests.change(table, Stored(after, stored.extra), stored, record)


def _lapsed(table: str, request: PrivacyRequest, now: datetime) -> bool:
    code = privacy_requests.get_code(table, request.workspace_id, request.request_id)
    if code is None:
        return True
    used_up = code.attempts >= otp.MAX_ATTEMPTS and code.sends >= otp.MAX_SENDS
    return used_up or now >= code.expires_at + LAPSE_AFTER


def _updated_before(stored: Stored, moment: datetime) -> bool:
    updated = stored.extra.get("updated_at")
    if not isinstance(updated, str):
        return True
    return datetime.fromisoformat(updated.replace("Z", "+00:00")) < moment


def check(
    requests_table: str,
    queue_url: str,
    now: datetime,
    out_of_time: Callable[[], bool],
    stalled_after: timedelta,
) -> Report:
    report = Report()
    for listed in privacy_requests.open_requests(requests_table):
        if out_of_time():
            report.stopped_early = True
            break
        report.open += 1
        try:
            _check_one(requests_table, queue_url, listed, now, stalled_after, report)
        except Conflict:
            # Changed while we looked: tomorrow's check sees its new state.
            report.errors.append(listed.request.request_id)
    count("PrivacyRequestsOverdue", report.overdue)
    count("PrivacyRequestsOpen", report.open)
    logger.info("privacy check", extra={"report": report.__dict__})
    return report


def _check_one(
    table: str,
    queue_url: str,
    listed: Stored,
    now: datetime,
    stalled_after: timedelta,
    report: Report,
) -> None:
    request = listed.request
    if lifecycle.is_overdue(request, now):
        report.overdue += 1
        if not request.overdue:
            stored = privacy_requests.get(table, request.workspace_id, request.request_id)
            if stored is not None:
                flagged = lifecycle.flag_overdue(stored.request, now)
                if flagged is not stored.request:
                    _write(table, stored, flagged, "flag_overdue", now)
                    report.flagged += 1
                    logger.warning(
                        "privacy request overdue",
                        extra={"request_id": request.request_id, "type": request.type},
                    )
    status = request.status
    if status == "awaiting_verification" and _lapsed(table, request, now):
        stored = privacy_requests.get(table, request.workspace_id, request.request_id)
        if stored is not None and stored.request.status == "awaiting_verification":
            event = Event(
                name="lapse", actor=system(request.workspace_id, COMPONENT), reason="code_expired"
            )
            _write(table, stored, lifecycle.transition(stored.request, event, now), "lapse", now)
            report.lapsed += 1
    elif status == "queued":
        due_purge = (
            request.type == "workspace_deletion"
            and request.not_before is not None
            and now >= request.not_before
        )
        stalled = request.type != "workspace_deletion" and _updated_before(
            listed, now - stalled_after
        )
        if due_purge or stalled:
            privacy_jobs.send(queue_url, [start_message(request)])
            report.purges_started += int(due_purge)
            report.requeued += int(stalled)
    elif status == "in_progress" and _updated_before(listed, now - stalled_after):
        # Re-send the ready tasks of a job that stopped moving (a lost message): running a
        # task that is still alive only repeats an idempotent page.
        current = privacy_requests.tasks_of(table, request.workspace_id, request.request_id)
        ready = tasks.ready(current)
        messages = [tasks.message(t) for t in ready] if ready else [start_message(request)]
        privacy_jobs.send(queue_url, messages)
        report.requeued += 1


def daily(
    requests_table: str,
    queue_url: str,
    conversations_table: str,
    now: datetime,
    out_of_time: Callable[[], bool],
    stalled_after: timedelta,
    max_swept: int,
) -> Report:
    """The scheduled run: the check of open requests, then the retention sweep with the time
    left (a sweep cut short continues the next day)."""
    report = check(requests_table, queue_url, now, out_of_time, stalled_after)
    report.retention = sweep_retention(conversations_table, now, out_of_time, max_swept)
    return report


def sweep_retention(
    conversations_table: str, now: datetime, out_of_time: Callable[[], bool], max_swept: int
) -> dict[str, Any]:
    swept = retention.sweep(conversations_table, int(now.timestamp()), out_of_time, max_swept)
    return dict(swept.__dict__)


def replay_tombstones(
    requests_table: str, queue_url: str, now: datetime, workspace_id: str | None = None
) -> Report:
    """After a backup restore: erase again what each tombstone names. The replay knows only
    keyed hashes; the worker finds visitors by them (email/phone indexes, by_workspace)."""
    report = Report()
    for tombstone in privacy_requests.tombstones(requests_table, workspace_id):
        if tombstone.subject_kind == "workspace":
            continue  # a purged workspace has no data a restore could bring back per subject
        actor = Actor(kind="admin", id=REPLAY_ACTOR, workspace_id=tombstone.workspace_id)
        subject = Subject(kind=tombstone.subject_kind, hash=tombstone.subject_hash)
        request = lifecycle.open_request(
            ids.new_id("pr"), tombstone.workspace_id, "delete", "admin", subject, actor, now
        )
        record = audit.record(None, request, "submit", "admin", REPLAY_ACTOR, now)
        privacy_requests.change(requests_table, Stored(request), None, record)
        privacy_jobs.send(queue_url, [start_message(request)])
        report.replayed += 1
    logger.info("tombstones replayed", extra={"replayed": report.replayed})
    return report


def utcnow() -> datetime:
    return clock.now()
