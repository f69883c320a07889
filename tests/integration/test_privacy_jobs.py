"""The job machinery under moto, fed with real-shaped SQS events: a large export spans several
invocations with bounded memory and exact counts; a crash in the middle of a task resumes
from its checkpoint; duplicate deliveries end with one package, one completion and zero
residue; a finished task run again changes nothing; a poison task ends in the DLQ and its
request shows `failed` (never `completed`) until an admin retries it."""

from __future__ import annotations

import dataclasses
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration import privacy_support as ps
from tests.support import HttpHandlerClient
from yoosr import clock, ids
from yoosr.privacy import handlers
from yoosr.store import conversations, ddb, keys, privacy_exports
from yoosr.store import privacy_stores as raw

MB = 1024 * 1024


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def org(stack: Any, apps: ps.Apps) -> ps.Org:
    return ps.Org(stack, apps)


@pytest.fixture
def small_pages(apps: ps.Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    smaller = dataclasses.replace(apps.worker.resources, page_size=50)
    monkeypatch.setattr(apps.worker, "resources", smaller)


@pytest.fixture
def seeded(stack: Any) -> Iterator[list[tuple[str, str]]]:
    """Items a test wrote in bulk, deleted afterwards: in-process moto answers queries in time
    proportional to the table, so bulk data left behind would slow every later suite."""
    written: list[tuple[str, str]] = []
    yield written
    raw.delete_keys(stack.table("ConversationsTable"), written)


def seed_messages(
    stack: Any, ws: str, conversation_id: str, count: int, visitor_id: str
) -> list[tuple[str, str]]:
    """`count` visitor messages in one conversation, written in batches (fast seeding);
    returns their keys."""
    client = boto3.client("dynamodb")
    table = stack.table("ConversationsTable")
    made = ids.new_ids("msg", count)
    for start in range(0, count, 25):
        items = [
            conversations.message_item(
                ws,
                conversation_id,
                message_id,
                "visitor",
                f"message number {start + offset} of a long conversation",
                clock.iso(),
                None,
                {"visitor_id": visitor_id},
            )
            for offset, message_id in enumerate(made[start : start + 25])
        ]
        client.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": ddb.to_av(i)}} for i in items]}
        )
    pk = keys.conversation_pk(ws, conversation_id)
    return [(pk, keys.MESSAGE_PREFIX + message_id) for message_id in made]


def package_of(stack: Any, ws: str, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    objects = ps.bucket_objects(stack, f"{ws}/{request_id}/")
    assert list(objects) == [privacy_exports.package_key(ws, request_id)], list(objects)
    archive = zipfile.ZipFile(io.BytesIO(objects[privacy_exports.package_key(ws, request_id)]))
    return json.loads(archive.read("manifest.json")), json.loads(archive.read("data.json"))


def test_a_large_export_spans_invocations_with_bounded_memory(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    org: ps.Org,
    small_pages: None,
    seeded: list[tuple[str, str]],
) -> None:
    # Given a visitor with 500 messages (the 100,000-message variant is
    # test_privacy_large_export.py, run with YOOSR_LONG_TESTS=1)
    total = 500
    v = ps.visitor(stack, apps, widget, org)
    conversation_id = v.start_conversation("first")
    seeded += seed_messages(stack, org.ws, conversation_id, total - 1, str(v.visitor_id))
    request_id = v.ask({"type": "export"}).json["id"]

    # When the worker runs with little time per invocation (pages of 50, ~0.6 s of work)
    # What each invocation adds at its peak over what was allocated before it (in-process moto
    # keeps what it stores, parts included, in this same heap: that part is baseline here)
    peaks: list[int] = []
    baseline = [0]
    tracemalloc.start()

    def before() -> None:
        tracemalloc.reset_peak()
        baseline[0] = tracemalloc.get_traced_memory()[0]

    def after() -> None:
        peaks.append(tracemalloc.get_traced_memory()[1] - baseline[0])

    try:
        invocations = ps.jobs(stack).deliver(
            apps.worker.lambda_handler, budget_ms=10_600, before=before, after=after
        )
    finally:
        tracemalloc.stop()

    # Then the messages task re-enqueued itself several times and the counts are exact
    detail = org.get(request_id).json
    assert detail["status"] == "completed", detail
    messages_task = next(t for t in detail["tasks"] if t["store"] == "conversations.messages")
    assert messages_task["items"] == total and messages_task["pages"] >= total // 50
    assert invocations >= 7 + 2, invocations  # 7 without any re-enqueueing
    assert detail["counts"]["conversations.messages"] == total
    manifest, document = package_of(stack, org.ws, request_id)
    assert {e["name"]: e["count"] for e in manifest["entities"]}["messages"] == total
    assert len(document["entities"]["messages"]) == total
    # And memory stayed bounded: no invocation held the whole export
    print(f"invocations={invocations} peak_kb={max(peaks) // 1024}")
    assert max(peaks) < 12 * MB, [p // 1024 for p in peaks]


def test_a_crash_in_the_middle_of_a_task_resumes_from_its_checkpoint(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    org: ps.Org,
    small_pages: None,
    monkeypatch: pytest.MonkeyPatch,
    seeded: list[tuple[str, str]],
) -> None:
    total = 300
    v = ps.visitor(stack, apps, widget, org)
    conversation_id = v.start_conversation("first")
    seeded += seed_messages(stack, org.ws, conversation_id, total - 1, str(v.visitor_id))
    request_id = v.ask({"type": "export"}).json["id"]

    # Given the worker crashes once, after writing the fourth part of the messages task
    writes: list[str] = []
    real_put = privacy_exports.put_part

    def crashing_put(bucket: str, key: str, records: Any) -> None:
        real_put(bucket, key, records)
        writes.append(key)
        if (
            "conversations.messages" in key
            and len([w for w in writes if "conversations.messages" in w]) == 4
            and not crashed
        ):
            crashed.append(key)
            raise RuntimeError("the Lambda died here")

    crashed: list[str] = []
    monkeypatch.setattr(privacy_exports, "put_part", crashing_put)
    ps.run_jobs(stack, apps)

    # Then it crashed once, resumed from the last checkpoint, and counted every message once
    assert crashed
    detail = org.get(request_id).json
    assert detail["status"] == "completed"
    assert detail["counts"]["conversations.messages"] == total
    _, document = package_of(stack, org.ws, request_id)
    assert len(document["entities"]["messages"]) == total
    assert len({m["message_id"] for m in document["entities"]["messages"]}) == total
    # (the page that crashed was written again, over itself: same key)
    message_parts = [w for w in writes if "conversations.messages" in w]
    assert len(message_parts) == len(set(message_parts)) + 1


def deliver_twice(apps: ps.Apps, queue: ps.QueueTap) -> int:
    """Every message is delivered twice (SQS is at least once): a copy is sent back before
    the original is handled. Returns the invocations made."""
    made = 0
    for _ in range(200):
        pending = queue.receive(10)
        if not pending:
            return made
        for message in pending:
            if not message["Body"].endswith(" "):
                # the copy carries a trailing space: it is not copied again
                queue.client.send_message(QueueUrl=queue.url, MessageBody=message["Body"] + " ")
        for message in pending:
            records = [ps.lambda_sqs_record(message, queue.arn, "us-east-1")]
            result = apps.worker.lambda_handler({"Records": records}, ps.Deadline(60_000))
            assert result == {"batchItemFailures": []}, result
            queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            made += 1
    raise AssertionError("the queue did not drain")


def test_duplicate_deliveries_end_with_one_package_one_completion_and_no_residue(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    v = ps.visitor(stack, apps, widget, org)
    v.start_conversation("duplicate me")
    queue = ps.jobs(stack)
    export_id = v.ask({"type": "export"}).json["id"]
    deliver_twice(apps, queue)
    erase_id = v.ask({"type": "delete"}).json["id"]
    deliver_twice(apps, queue)

    export = org.get(export_id).json
    erasure = org.get(erase_id).json
    assert (export["status"], erasure["status"]) == ("completed", "completed")
    for detail in (export, erasure):
        assert [e["action"] for e in detail["audit"]] == ["submit", "start", "complete"]
        assert all(t["done"] for t in detail["tasks"])
    assert export["counts"]["conversations.messages"] == 1
    assert erasure["counts"]["conversations.messages"] == 1
    # The erasure ran after the export: its one package is gone with the rest
    assert ps.bucket_objects(stack, f"{org.ws}/{export_id}/") == {}
    assert ps.partition(stack, "VisitorsTable", keys.visitor_pk(org.ws, str(v.visitor_id))) == []


def test_a_finished_task_run_again_changes_nothing(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    v = ps.visitor(stack, apps, widget, org)
    v.start_conversation("once")
    request_id = v.ask({"type": "export"}).json["id"]
    ps.run_jobs(stack, apps)
    pk = f"{org.ws}#PRIVACY#{request_id}"
    before = ps.partition(stack, "PrivacyRequestsTable", pk)
    package = ps.bucket_objects(stack, f"{org.ws}/{request_id}/")
    # When every task's message (and the start) is delivered again
    queue = ps.jobs(stack)
    for item in before:
        if item["sk"].startswith("TASK#") or item["sk"] == "REQUEST":
            task_id = item["task"]["task_id"] if "task" in item else "start"
            body = {"workspace_id": org.ws, "request_id": request_id, "task_id": task_id}
            queue.client.send_message(QueueUrl=queue.url, MessageBody=json.dumps(body))
    assert ps.run_jobs(stack, apps) == len(before) - 3  # tasks + start (not CODE/AUDIT rows)
    # Then nothing stored changed: request, tasks, audit, package
    assert ps.partition(stack, "PrivacyRequestsTable", pk) == before
    assert ps.bucket_objects(stack, f"{org.ws}/{request_id}/") == package


def test_a_poison_task_ends_in_the_dlq_and_the_request_fails_until_retried(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    org: ps.Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v = ps.visitor(stack, apps, widget, org)
    conversation_id = v.start_conversation("poison")
    request_id = org.create({"type": "delete", "subject": {"visitor_id": v.visitor_id}}).json["id"]

    # Given the messages eraser fails every time
    def poison(job: Any, task: Any) -> Any:
        raise RuntimeError("poison")

    monkeypatch.setitem(handlers.ERASERS, "conversations.messages", poison)
    ps.run_jobs(stack, apps)
    # Then its message was received three times and moved to the DLQ; the request is still
    # in progress until the DLQ's consumer marks it failed
    assert org.get(request_id).json["status"] == "in_progress"
    dlq = ps.dead_letters(stack)
    assert dlq.deliver(apps.failures.lambda_handler) == 1
    failed = org.get(request_id).json
    assert (failed["status"], failed["reason"]) == ("failed", "task_failed")
    assert failed["completed_at"] is None
    assert [e["action"] for e in failed["audit"]][-1] == "fail"
    # (the sessions went first: the visitor is already refused; the messages are still there)
    assert v.call("widget_list_conversations").status == 401
    assert ps.partition(stack, "ConversationsTable", keys.conversation_pk(org.ws, conversation_id))

    # When the fault is fixed and an admin retries, it completes (finished tasks are kept)
    monkeypatch.undo()
    retried = org.decide(request_id, "retry")
    assert retried.json["status"] == "queued", retried.body
    ps.run_jobs(stack, apps)
    done = org.get(request_id).json
    assert done["status"] == "completed", done
    assert [e["action"] for e in done["audit"]] == [
        "submit", "start", "fail", "retry", "start", "complete"
    ]  # fmt: skip
    assert (
        ps.partition(stack, "ConversationsTable", keys.conversation_pk(org.ws, conversation_id))
        == []
    )
