"""The privacy job runner: what PrivacyWorkerFunction does with each queue message, and what
PrivacyFailuresFunction does with one that ended in the DLQ.

    start      queued → in_progress and the plan's tasks, in one transaction (a redelivered
               start finds the request in progress and re-sends the ready tasks)
    task       page after page (handlers), each one checkpointed on the cursor it was read
               from; before the deadline the task re-enqueues itself; a finished task is
               never run again
    advance    when a task is done: the next phase's tasks once the phase is complete, or
               `complete` with the counts (and the erasure's tombstone) in one transaction
    fail       a task that failed three times: the request is `failed`, never `completed`

Messages name ids only (yoosr.privacy.tasks.TaskMessage).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from yoosr.errors import Conflict
from yoosr.observability import count, logger
from yoosr.privacy import audit, handlers, lifecycle, tasks
from yoosr.privacy.handlers import Job, Resources
from yoosr.privacy.lifecycle import Actor, Event, PrivacyRequest
from yoosr.privacy.tasks import Page, Task, TaskMessage
from yoosr.store import privacy_exports, privacy_jobs, privacy_requests, privacy_stores
from yoosr.store.privacy_requests import Stored

START = "start"
WORKER = "privacy_worker"
FAILURES = "privacy_failures"


def system(workspace_id: str, component: str = WORKER) -> Actor:
    return Actor(kind="system", id=component, workspace_id=workspace_id)


def start_message(request: PrivacyRequest) -> TaskMessage:
    return TaskMessage(
        workspace_id=request.workspace_id, request_id=request.request_id, task_id=START
    )


# ---------------------------------------------------------------- targets


def resolve_targets(res: Resources, request: PrivacyRequest) -> list[str]:
    """The visitor ids a request is about, found by key or keyed-hash index (never a scan).
    An email or phone may name several visitors (several devices); none is a valid answer."""
    if request.type in ("delete_conversation", "workspace_deletion"):
        return []
    subject = request.subject
    if subject.kind == "visitor":
        if subject.value:
            return [subject.value]
        # A tombstone replay knows only the keyed hash of the visitor id.
        return privacy_stores.visitor_ids_by_key(
            res.visitors_table, request.workspace_id, subject.hash
        )
    found = subject.lookup(request.workspace_id)
    if found is None:
        return []
    index, attribute, value = found
    return privacy_stores.visitor_ids_by_index(res.visitors_table, index, attribute, value)


# ---------------------------------------------------------------- start


def _task_writes(
    res: Resources, request: PrivacyRequest, planned: tuple[Task, ...]
) -> list[dict[str, Any]]:
    """The plan's tasks. After a retry they exist: an export keeps its finished tasks (their
    parts are in the bucket); an erasure runs every task again from the start, since deletes
    are idempotent and whatever appeared meanwhile (a package an export wrote late) must go
    before the verification can pass."""
    if request.type in lifecycle.ERASURE_TYPES:
        return [
            privacy_requests.put(res.requests_table, privacy_requests.task_item(task))
            for task in planned
        ]
    existing = {
        t.task_id
        for t in privacy_requests.tasks_of(
            res.requests_table, request.workspace_id, request.request_id
        )
    }
    return [
        privacy_requests.put_new_task(res.requests_table, task)
        for task in planned
        if task.task_id not in existing
    ]


def _cancel_other_requests(res: Resources, deletion: PrivacyRequest, now: datetime) -> None:
    """A purge starts: the workspace's other waiting requests are cancelled in the name of
    the admin who deleted it (which drops their raw subjects)."""
    cursor: str | None = None
    actor = deletion.requested_by
    while True:
        page, cursor = privacy_requests.list_requests(
            res.requests_table, deletion.workspace_id, 100, cursor
        )
        for listed in page:
            other = listed.request
            if other.request_id == deletion.request_id or other.status not in (
                "received",
                "awaiting_verification",
                "awaiting_approval",
                "queued",
                "failed",
            ):
                continue
            fresh = privacy_requests.get(res.requests_table, other.workspace_id, other.request_id)
            if fresh is None:
                continue
            try:
                after = lifecycle.transition(
                    fresh.request,
                    Event(name="cancel", actor=actor, reason="workspace_deleted"),
                    now,
                )
                event = audit.record(fresh.request, after, "cancel", "admin", actor.id, now)
                privacy_requests.change(
                    res.requests_table, Stored(after, fresh.extra), fresh, event
                )
            except Conflict:
                continue  # moved meanwhile: it ends with the workspace's data
        if cursor is None:
            return


def start(res: Resources, queue_url: str, message: TaskMessage, now: datetime) -> str:
    stored = privacy_requests.get(res.requests_table, message.workspace_id, message.request_id)
    if stored is None:
        return "unknown"
    request = stored.request
    if request.status == "queued":
        if request.type == "workspace_deletion" and request.not_before and now < request.not_before:
            return "not_due"
        targets = resolve_targets(res, request)
        started = lifecycle.transition(
            request, Event(name="start", actor=system(request.workspace_id)), now
        )
        planned = tasks.plan(started, targets)
        event = audit.record(request, started, "start", "system", WORKER, now)
        try:
            privacy_requests.change(
                res.requests_table,
                Stored(started, stored.extra),
                stored,
                event,
                _task_writes(res, request, planned),
            )
        except Conflict:
            # Another delivery of the start won: carry on as a redelivered start.
            fresh = privacy_requests.get(
                res.requests_table, request.workspace_id, request.request_id
            )
            if fresh is None or fresh.request.status != "in_progress":
                return "ignored"
            stored = fresh
        else:
            if request.type == "workspace_deletion":
                _cancel_other_requests(res, started, now)
            count("PrivacyRequestsStarted")
            logger.info(
                "privacy request started",
                extra={
                    "request_id": request.request_id,
                    "type": request.type,
                    "tasks": len(planned),
                },
            )
            stored = Stored(started, stored.extra)
    elif request.status != "in_progress":
        return "ignored"
    current = privacy_requests.tasks_of(
        res.requests_table, request.workspace_id, request.request_id
    )
    ready = tasks.ready(current)
    if not ready:
        _complete(res, stored, current, now)
        return "completed"
    privacy_jobs.send(queue_url, [tasks.message(task) for task in ready])
    return "started"


# ---------------------------------------------------------------- tasks


def run(
    res: Resources,
    queue_url: str,
    message: TaskMessage,
    time_left_ms: Callable[[], int],
    now: Callable[[], datetime],
) -> str:
    """Handle one queue message; returns what happened (for logs and tests)."""
    if message.task_id == START:
        return start(res, queue_url, message, now())
    stored = privacy_requests.get(res.requests_table, message.workspace_id, message.request_id)
    if stored is None or stored.request.status != "in_progress":
        return "ignored"  # cancelled, failed or finished meanwhile: the task has no work
    task = privacy_requests.get_task(
        res.requests_table, message.workspace_id, message.request_id, message.task_id
    )
    if task is None:
        return "unknown"
    if task.done:
        # Run again (a duplicate delivery): it changes nothing, and sends nothing either, so
        # duplicates cannot multiply. The delivery that finished it advanced the job (and
        # the daily check re-sends the ready tasks of a job that stopped moving).
        return "finished_already"
    job = Job(res, stored.request, now())
    handler = handlers.handler_for(job, task)
    while True:
        result, elapsed = handlers.timed(handler, job, task)
        page = Page(
            cursor=task.cursor,
            next_cursor=result.next_cursor,
            items=result.items,
            elapsed_ms=elapsed,
        )
        stepped, decision = tasks.step(task, page, time_left_ms())
        if not privacy_requests.checkpoint(res.requests_table, stepped, task.cursor):
            return "superseded"  # another delivery advanced it: that one carries on
        task = stepped
        if decision == "done":
            break
        if decision == "requeue":
            privacy_jobs.send(queue_url, [tasks.message(task)])
            count("PrivacyTasksRequeued")
            return "requeued"
    _advance(res, queue_url, stored, task, now())
    return "done"


def _advance(res: Resources, queue_url: str, stored: Stored, finished: Task, now: datetime) -> None:
    """After a task: nothing while its phase runs; the next phase once it is complete; the
    completion after the last. Two tasks finishing together may both send the next phase:
    tasks are idempotent, so a duplicate costs a read."""
    request = stored.request
    current = privacy_requests.tasks_of(
        res.requests_table, request.workspace_id, request.request_id
    )
    if tasks.all_done(current):
        _complete(res, stored, current, now)
        return
    ready = tasks.ready(current)
    if ready and ready[0].phase > finished.phase:
        privacy_jobs.send(queue_url, [tasks.message(task) for task in ready])


def _complete(res: Resources, stored: Stored, done: list[Task], now: datetime) -> None:
    for _ in range(3):
        request = stored.request
        after = lifecycle.transition(
            request,
            Event(name="complete", actor=system(request.workspace_id), counts=tasks.counts(done)),
            now,
        )
        if after is request:
            return  # completed already (a duplicate)
        extra = dict(stored.extra)
        more = []
        if handlers.is_export(request):
            extra["package_key"] = privacy_exports.package_key(
                request.workspace_id, request.request_id
            )
        tombstone = audit.tombstone(after)
        if tombstone is not None:
            more.append(
                privacy_requests.put(res.requests_table, privacy_requests.tombstone_item(tombstone))
            )
        event = audit.record(request, after, "complete", "system", WORKER, now)
        try:
            privacy_requests.change(res.requests_table, Stored(after, extra), stored, event, more)
        except Conflict:
            fresh = privacy_requests.get(
                res.requests_table, request.workspace_id, request.request_id
            )
            if fresh is None:
                return
            stored = fresh
            continue
        count("PrivacyRequestsCompleted")
        logger.info(
            "privacy request completed",
            extra={"request_id": request.request_id, "type": request.type, "counts": after.counts},
        )
        return
    raise Conflict(
        "The request kept changing; the completion is retried.", code="concurrent_update"
    )


# ---------------------------------------------------------------- failures


def fail(requests_table: str, message: TaskMessage, now: datetime) -> str:
    """A task's message ended in the DLQ: its request fails (an admin may retry it)."""
    for _ in range(3):
        stored = privacy_requests.get(requests_table, message.workspace_id, message.request_id)
        if stored is None:
            return "unknown"
        request = stored.request
        try:
            after = lifecycle.transition(
                request,
                Event(
                    name="fail",
                    actor=system(request.workspace_id, FAILURES),
                    reason="task_failed" if message.task_id != START else "start_failed",
                ),
                now,
            )
        except Conflict:
            return "ignored"  # completed, cancelled or denied: nothing to mark
        if after is request:
            return "failed"
        event = audit.record(request, after, "fail", "system", FAILURES, now)
        try:
            privacy_requests.change(requests_table, Stored(after, stored.extra), stored, event)
        except Conflict:
            continue
        count("PrivacyRequestsFailed")
        logger.warning(
            "privacy request failed",
            extra={"request_id": request.request_id, "task_id": message.task_id},
        )
        return "failed"
    raise Conflict("The request kept changing; the failure is retried.", code="concurrent_update")
