"""The job plan: per-store tasks from the registry, ids-only messages, and a step function
that checkpoints, re-enqueues before the deadline and never runs a finished task twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yoosr.errors import BadRequest, Conflict
from yoosr.privacy import tasks
from yoosr.privacy.lifecycle import (
    Actor,
    Event,
    PrivacyRequest,
    RequestType,
    open_request,
    transition,
)
from yoosr.privacy.subject import Subject
from yoosr.privacy.tasks import Page, Task, step

KEY = "test-subject-key"
WS = "ws_A"
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
ADMIN = Actor(kind="admin", id="user_admin", workspace_id=WS)
SYSTEM = Actor(kind="system", id="privacy_worker", workspace_id=WS)
EMAIL = Subject.of(KEY, "email", "ada@example.com").scrubbed()
VISITORS = ("vis_1", "vis_2")


def started(request_type: RequestType, **extra: object) -> PrivacyRequest:
    subject = Subject.of(KEY, "workspace", WS) if request_type == "workspace_deletion" else EMAIL
    request = open_request("pr_1", WS, request_type, "admin", subject, ADMIN, NOW, **extra)
    at = request.not_before or NOW
    return transition(request, Event(name="start", actor=SYSTEM), at)


def ids(planned: tuple[Task, ...]) -> list[str]:
    return [task.task_id for task in planned]


# ---------------------------------------------------------------- planning


def test_an_export_collects_each_entity_then_packages() -> None:
    planned = tasks.plan(started("export"), [*VISITORS, "vis_1"])
    assert ids(planned) == [
        "0-export-visitors.visitor",
        "0-export-conversations.conversation",
        "0-export-conversations.messages",
        "0-export-conversations.notes",
        "0-export-conversations.csat",
        "1-package",
    ]
    assert all(task.targets == VISITORS for task in planned)
    assert all(task.request_id == "pr_1" and task.workspace_id == WS for task in planned)
    assert ids(tuple(tasks.ready(planned))) == ids(planned)[:5]


def test_an_erasure_runs_in_phases_and_ends_with_verification() -> None:
    planned = tasks.plan(started("delete"), VISITORS)
    assert ids(planned) == [
        "0-erase-ephemeral.sessions",
        "0-erase-privacy.exports",
        "1-erase-conversations.messages",
        "1-erase-conversations.notes",
        "1-erase-conversations.csat",
        "1-erase-conversations.markers",
        "1-erase-conversations.client_conversations",
        "1-erase-ephemeral.rate_windows",
        "2-erase-conversations.conversation",
        "3-erase-visitors.visitor",
        "4-verify",
    ]
    # Phase 1 waits for phase 0
    first = [
        task.model_copy(update={"done": True}) if task.phase == 0 else task for task in planned
    ]
    assert {task.phase for task in tasks.ready(first)} == {1}
    assert tasks.ready([task.model_copy(update={"done": True}) for task in planned]) == []


def test_other_requests_target_what_they_name() -> None:
    one = tasks.plan(started("delete_conversation", conversation_id="conv_9"), VISITORS)
    assert {task.targets for task in one} == {("conv_9",)}
    assert ids(one)[-1] == "2-verify"
    purge = tasks.plan(started("workspace_deletion"), [])
    assert {task.targets for task in purge} == {(WS,)}
    assert "3-erase-workspaces.workspace" in ids(purge)
    flag = tasks.plan(started("restrict"), VISITORS)
    assert [(t.task_id, t.action, t.store) for t in flag] == [
        ("0-flag-visitors.visitor", "flag", "visitors.visitor")
    ]
    fix = tasks.plan(started("correct", changes={"name": "Ada L."}), VISITORS)
    assert [(t.action, t.targets) for t in fix] == [("correct", VISITORS)]


def test_planning_is_deterministic_and_only_for_a_started_request() -> None:
    request = started("delete")
    assert tasks.plan(request, VISITORS) == tasks.plan(request, VISITORS)
    queued = open_request("pr_1", WS, "delete", "admin", EMAIL, ADMIN, NOW)
    with pytest.raises(Conflict):
        tasks.plan(queued, VISITORS)


def test_a_queue_message_carries_ids_only() -> None:
    task = tasks.plan(started("delete"), VISITORS)[0]
    body = tasks.message(task).model_dump()
    assert body == {
        "workspace_id": WS,
        "request_id": "pr_1",
        "task_id": "0-erase-ephemeral.sessions",
    }


# ---------------------------------------------------------------- running

TASK = Task(
    workspace_id=WS,
    request_id="pr_1",
    task_id="1-erase-conversations.messages",
    action="erase",
    store="conversations.messages",
    phase=1,
    targets=VISITORS,
)


def test_a_page_advances_the_cursor_and_counts() -> None:
    page = Page(cursor=None, next_cursor="c1", items=100, elapsed_ms=800)
    after, decision = step(TASK, page, deadline_left_ms=60_000)
    assert decision == "continue"
    assert (after.cursor, after.items, after.pages, after.slowest_page_ms) == ("c1", 100, 1, 800)
    assert not after.done


def test_it_re_enqueues_when_the_deadline_is_near() -> None:
    page = Page(cursor=None, next_cursor="c1", items=100, elapsed_ms=5_000)
    # 10 s margin + 2 × 5 s slowest page = 20 s needed
    assert step(TASK, page, deadline_left_ms=20_000)[1] == "continue"
    assert step(TASK, page, deadline_left_ms=19_999)[1] == "requeue"


def test_the_last_page_finishes_and_forgets_the_targets() -> None:
    running = TASK.model_copy(update={"cursor": "c9", "items": 900, "pages": 9})
    done, decision = step(running, Page(cursor="c9", next_cursor=None, items=7, elapsed_ms=5), 1)
    assert decision == "done"
    assert (done.done, done.cursor, done.targets, done.items, done.pages) == (
        True,
        None,
        (),
        907,
        10,
    )


def test_re_running_a_finished_task_changes_nothing() -> None:
    done, _ = step(TASK, Page(cursor=None, next_cursor=None, items=3, elapsed_ms=5), 60_000)
    again = step(done, Page(cursor=None, next_cursor="x", items=50, elapsed_ms=5), 60_000)
    assert again == (done, "done")
    assert again[0] is done


def test_a_page_from_another_cursor_is_refused() -> None:
    running = TASK.model_copy(update={"cursor": "c2"})
    with pytest.raises(Conflict) as stale:
        step(running, Page(cursor="c1", next_cursor="c2", items=10, elapsed_ms=5), 60_000)
    assert stale.value.error_code == "stale_page"


def test_a_large_task_spans_invocations_and_survives_a_crash() -> None:
    # Given 100,000 messages read 1,000 a page, each page taking 400 ms, in invocations of 15 s
    total, per_page = 100_000, 1_000
    task, invocations, crashed = TASK, 0, False
    while not task.done:
        invocations += 1
        left = 15_000
        while True:
            done_so_far = int(task.cursor or 0)
            remaining = total - done_so_far
            page = Page(
                cursor=task.cursor,
                next_cursor=str(done_so_far + per_page) if remaining > per_page else None,
                items=min(per_page, remaining),
                elapsed_ms=400,
            )
            left -= page.elapsed_ms
            if invocations == 2 and not crashed:
                crashed = True  # the Lambda dies before writing this page's checkpoint
                break
            task, decision = step(task, page, left)
            if decision != "continue":
                break
    # Then it finished across several invocations, counting every message exactly once
    assert task.items == total
    assert task.pages == total // per_page
    assert invocations == 11  # 11 pages fit an invocation; one more for the crash


def test_counts_per_store_for_the_completion() -> None:
    planned = tasks.plan(started("delete"), VISITORS)
    finished = [t.model_copy(update={"done": True, "items": 2}) for t in planned]
    totals = tasks.counts(finished)
    assert totals["conversations.messages"] == 2
    assert "None" not in totals and len(totals) == len(planned) - 1
    assert tasks.all_done(finished) and not tasks.all_done(planned)


# ---------------------------------------------------------------- cursors


def test_a_cursor_walks_target_by_target() -> None:
    key = {"pk": "ws_A#CONV#conv_1", "sk": "MSG#0042"}
    cursor = tasks.next_cursor(TASK, 0, key)
    assert cursor is not None and tasks.decode_cursor(cursor) == (0, key)
    moved = tasks.next_cursor(TASK, 0, None)
    assert moved is not None and tasks.decode_cursor(moved) == (1, None)
    assert tasks.next_cursor(TASK, 1, None) is None
    assert tasks.decode_cursor(None) == (0, None)


@pytest.mark.parametrize("cursor", ["not base64!", "e30=", "eyJ0IjoiMCIsImsiOm51bGx9"])
def test_a_corrupt_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(BadRequest):
        tasks.decode_cursor(cursor)
