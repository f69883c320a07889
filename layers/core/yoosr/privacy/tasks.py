"""The job plan: a started request becomes per-store tasks that a queue worker runs page by
page, checkpointing a cursor and re-enqueueing itself before the Lambda deadline.

Rules:
- `plan` turns a request (in progress) and its resolved targets (visitor ids, one
  conversation id, or the workspace id) into tasks derived from the store registry. Task ids
  are deterministic, so planning twice (a redelivered start) writes the same tasks.
- Tasks run phase by phase (`ready`): an erasure deletes children before what locates them,
  then one verify task checks every store; an export collects each entity, then packages.
- A queue message names a task by ids only (`TaskMessage`): no personal data, no targets.
  The worker loads the task record, which holds the targets until the task is done.
- `step` folds one processed page into the task. The page names the cursor it was read from;
  the store writes the result on condition that the task still has that cursor, so a
  duplicate delivery running the same page cannot advance the task twice. After a crash the
  next delivery resumes from the last written cursor (pages are idempotent: deletes, and
  export parts keyed by their cursor).
- `step` continues while the time left exceeds the safety margin plus twice the slowest page
  so far; otherwise the worker writes the checkpoint and sends the task's message again.
- A done task keeps counts and drops its targets and cursor; stepping it changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yoosr.errors import BadRequest, Conflict
from yoosr.privacy import registry
from yoosr.privacy.lifecycle import PrivacyRequest

Action = Literal["export", "package", "erase", "verify", "correct", "flag"]
Decision = Literal["continue", "requeue", "done"]

SAFETY_MARGIN_MS = 10_000
"""Time kept back to write the checkpoint and send the next message."""

_FLAG_TYPES = frozenset({"restrict", "lift_restriction", "object"})
_VISITOR_ERASURE = frozenset({"delete", "under_16_report"})


class Task(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    request_id: str
    task_id: str
    action: Action
    store: str | None
    """The registry store; None for the package and verify tasks, which span stores."""
    phase: int
    targets: tuple[str, ...]
    cursor: str | None = None
    done: bool = False
    items: int = 0
    pages: int = 0
    slowest_page_ms: int = 0


class TaskMessage(BaseModel):
    """The body of a job queue message: ids only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str
    request_id: str
    task_id: str


class Page(BaseModel):
    """What the worker did with one page of a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cursor: str | None
    """The cursor the page was read from: the task's cursor when the worker began."""
    next_cursor: str | None
    """Where the next page starts; None when the task has nothing more to do."""
    items: int = Field(ge=0)
    elapsed_ms: int = Field(ge=0)


def message(task: Task) -> TaskMessage:
    return TaskMessage(
        workspace_id=task.workspace_id, request_id=task.request_id, task_id=task.task_id
    )


# ---------------------------------------------------------------- planning


def _task(
    request: PrivacyRequest,
    action: Action,
    store: str | None,
    phase: int,
    targets: tuple[str, ...],
) -> Task:
    return Task(
        workspace_id=request.workspace_id,
        request_id=request.request_id,
        task_id=f"{phase}-{action}" + (f"-{store}" if store else ""),
        action=action,
        store=store,
        phase=phase,
        targets=targets,
    )


def _erasure(
    request: PrivacyRequest, scope: registry.Scope, targets: tuple[str, ...]
) -> list[Task]:
    phases = registry.erasure_phases(scope)
    tasks = [
        _task(request, "erase", store.name, number, targets)
        for number, stores in enumerate(phases)
        for store in stores
    ]
    return [*tasks, _task(request, "verify", None, len(phases), targets)]


def plan(request: PrivacyRequest, targets: Iterable[str]) -> tuple[Task, ...]:
    """The tasks of a started request. `targets` are the visitor ids found for the subject
    (possibly none: the answer is then an empty package, or nothing to erase)."""
    if request.status != "in_progress":
        raise Conflict("Only a started request is planned.", code="not_started")
    found = tuple(dict.fromkeys(targets))
    if request.type in ("access", "export"):
        collect = [_task(request, "export", e.store, 0, found) for e in registry.EXPORT_ENTITIES]
        return (*collect, _task(request, "package", None, 1, found))
    if request.type in _VISITOR_ERASURE:
        return tuple(_erasure(request, "visitor", found))
    if request.type == "delete_conversation":
        if request.conversation_id is None:  # open_request requires one
            raise ValueError("delete_conversation without a conversation id")
        return tuple(_erasure(request, "conversation", (request.conversation_id,)))
    if request.type == "workspace_deletion":
        return tuple(_erasure(request, "workspace", (request.workspace_id,)))
    action: Action = "flag" if request.type in _FLAG_TYPES else "correct"
    return (_task(request, action, "visitors.visitor", 0, found),)


def ready(tasks: Iterable[Task]) -> list[Task]:
    """The unfinished tasks of the earliest unfinished phase (empty when all are done)."""
    pending = [task for task in tasks if not task.done]
    if not pending:
        return []
    first = min(task.phase for task in pending)
    return [task for task in pending if task.phase == first]


def all_done(tasks: Iterable[Task]) -> bool:
    return all(task.done for task in tasks)


def counts(tasks: Iterable[Task]) -> dict[str, int]:
    """Items handled per store: the `complete` event's counts."""
    totals: dict[str, int] = {}
    for task in tasks:
        if task.store is not None:
            totals[task.store] = totals.get(task.store, 0) + task.items
    return totals


# ---------------------------------------------------------------- running


def step(task: Task, page: Page, deadline_left_ms: int) -> tuple[Task, Decision]:
    """Fold one page into the task and say whether to take another page now, re-enqueue, or
    stop because the task is done."""
    if task.done:
        return task, "done"
    if page.cursor != task.cursor:
        raise Conflict("The page was read from another cursor.", code="stale_page")
    slowest = max(task.slowest_page_ms, page.elapsed_ms)
    advanced = task.model_copy(
        update={
            "cursor": page.next_cursor,
            "items": task.items + page.items,
            "pages": task.pages + 1,
            "slowest_page_ms": slowest,
        }
    )
    if page.next_cursor is None:
        return advanced.model_copy(update={"done": True, "targets": ()}), "done"
    if deadline_left_ms - SAFETY_MARGIN_MS >= 2 * slowest:
        return advanced, "continue"
    return advanced, "requeue"


def encode_cursor(target: int, key: dict[str, Any] | None) -> str:
    """A task cursor: which target, and where in it (a store's own position, JSON)."""
    raw = json.dumps({"t": target, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[int, dict[str, Any] | None]:
    """(target index, store position); the start of the first target for None."""
    if cursor is None:
        return 0, None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        target, key = value["t"], value["k"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("The task cursor is corrupt.", code="bad_cursor") from None
    if not isinstance(target, int) or not (key is None or isinstance(key, dict)):
        raise BadRequest("The task cursor is corrupt.", code="bad_cursor")
    return target, key


def next_cursor(task: Task, target: int, key: dict[str, Any] | None) -> str | None:
    """Where to go after a page that ended at `key` in target number `target` (None: that
    target is finished): the same target, the next one, or None when all are done."""
    if key is not None:
        return encode_cursor(target, key)
    if target + 1 < len(task.targets):
        return encode_cursor(target + 1, None)
    return None
