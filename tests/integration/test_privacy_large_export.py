"""The long proof: a subject with 100,000 messages is exported across several worker
invocations with bounded memory, and the manifest's counts equal the source's.

Skipped unless YOOSR_LONG_TESTS=1 (it takes a few minutes; `make test` skips it). The default
suite runs the same path with 500 messages in-process (test_privacy_jobs.py).

To measure memory the way Lambda would see it, the worker runs in a process of its own against
a moto server in another (in-process moto would keep the uploaded parts and the zip in the
worker's own heap): the worker process's peak RSS after its imports is the figure reported.

    YOOSR_LONG_TESTS=1 .venv/bin/python -m pytest -q -s \
        tests/integration/test_privacy_large_export.py
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from typing import Any

import pytest

from tests.support import FAKE_AWS_ENV, ROOT

MESSAGES = int(os.environ.get("YOOSR_LONG_MESSAGES", "100000"))
CONVERSATIONS = 100
BUDGET_MS = 20_000  # 10 s of safety margin + about 10 s of work per invocation
RSS_BOUND_MB = 160

pytestmark = pytest.mark.skipif(
    os.environ.get("YOOSR_LONG_TESTS") != "1",
    reason="long: 100,000 messages across worker invocations; YOOSR_LONG_TESTS=1 runs it",
)


def _child(phase: str, endpoint: str, *args: str) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YOOSR_")},
        **FAKE_AWS_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "PYTHONPATH": f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "YOOSR_LONG_MESSAGES": str(MESSAGES),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.test_privacy_large_export",
            phase,
            endpoint,
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3_600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_100000_message_export_spans_invocations_with_bounded_memory() -> None:
    from local.moto_server import MotoServer

    server = MotoServer()
    endpoint = server.start()
    try:
        started = time.monotonic()
        seeded = _child("seed", endpoint)
        seeded_s = time.monotonic() - started
        worked = _child("work", endpoint)
        checked = _child("check", endpoint, seeded["workspace_id"], seeded["request_id"])
    finally:
        server.stop()
    print(
        json.dumps(
            {"seeded_s": round(seeded_s), **worked, **checked, "messages": MESSAGES}, indent=2
        )
    )
    # Several invocations, every message counted once, memory bounded
    assert worked["invocations"] >= 8
    assert worked["requeued"] >= 3
    assert checked["status"] == "completed"
    assert checked["manifest_messages"] == MESSAGES == checked["data_messages"]
    assert checked["counted_messages"] == MESSAGES
    assert checked["sha256_ok"]
    growth_mb = (worked["peak_rss_kb"] - worked["baseline_rss_kb"]) / 1024
    assert growth_mb < RSS_BOUND_MB, worked


# ---------------------------------------------------------------- the child processes


def _resources(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    from yoosr.store import aws

    # moto answers a query in time proportional to the whole table (100,000 items): far
    # slower than DynamoDB, so the functions' 5 s read timeout is lifted for this run.
    aws._CONFIG = Config(connect_timeout=5, read_timeout=300, retries={"max_attempts": 2})

    from local.resources import create_resources
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    return template, create_resources(template, boto3.Session(), endpoint_url=endpoint)


def _environment(template: Any, resources: Any, *functions: str) -> None:
    from local.resources import function_environment

    for function in functions:
        os.environ.update(function_environment(template, function, resources))
    os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ["YOOSR_CLERK_ISSUER"] = "https://clerk.long.test"


def seed(endpoint: str) -> dict[str, Any]:
    template, resources = _resources(endpoint)
    _environment(template, resources, "PrivacyFunction", "PrivacyWorkerFunction")
    import boto3

    from yoosr import clock, ids
    from yoosr.dashboard.access import DashboardCaller
    from yoosr.domain import hashing
    from yoosr.models.workspace import Workspace
    from yoosr.privacy import service
    from yoosr.privacy.api import AdminRequestIn
    from yoosr.provisioning import provision_workspace
    from yoosr.store import assignment, conversations, ddb, visitors, workspaces
    from yoosr.store.secrets import get_secret

    def table(logical_id: str) -> str:
        return str(resources.ref(logical_id))

    key = get_secret(str(resources.ref("SubjectHashKeySecret")), 300)
    ws = provision_workspace(table("WorkspacesTable"), "org_long_export", "Long").workspace_id
    visitor_id = ids.new_id("vis")
    item = visitors.new_visitor_item(
        ws,
        visitor_id,
        {"name": "Long Talker"},
        {},
        False,
        visitor_key=hashing.subject_hash(key, "visitor", visitor_id),
    )
    visitors.create(table("VisitorsTable"), item)
    client = boto3.client("dynamodb")
    per_conversation = MESSAGES // CONVERSATIONS
    for c in range(CONVERSATIONS):
        conversation_id = ids.new_id("conv")
        conversation = conversations.conversation_item(
            ws, conversation_id, visitor_id, clock.iso(), None, owner="bot"
        )
        ddb.put(table("ConversationsTable"), conversation)
        made = ids.new_ids("msg", per_conversation)
        for start in range(0, per_conversation, 25):
            batch = [
                conversations.message_item(
                    ws,
                    conversation_id,
                    message_id,
                    "visitor",
                    f"Message {start + n} of conversation {c}: where is my parcel, please?",
                    clock.iso(),
                    None,
                    {"visitor_id": visitor_id},
                )
                for n, message_id in enumerate(made[start : start + 25])
            ]
            client.batch_write_item(
                RequestItems={
                    table("ConversationsTable"): [
                        {"PutRequest": {"Item": ddb.to_av(i)}} for i in batch
                    ]
                }
            )
    wiring = service.Wiring(
        requests_table=table("PrivacyRequestsTable"),
        exports_bucket=table("PrivacyExportsBucket"),
        jobs_queue_url=table("PrivacyJobsQueue"),
        subject_key=lambda: key,
    )
    workspace = Workspace.model_validate(workspaces.get_workspace(table("WorkspacesTable"), ws))
    caller = DashboardCaller(workspace, "org_long_export", "user_admin", "sess", "admin")
    out = service.admin_create(
        wiring,
        assignment.Tables(table("WorkspacesTable"), table("ConversationsTable")),
        caller,
        AdminRequestIn.model_validate({"type": "export", "subject": {"visitor_id": visitor_id}}),
        clock.now(),
    )
    return {"workspace_id": ws, "request_id": out.id}


def work(endpoint: str) -> dict[str, Any]:
    template, resources = _resources(endpoint)
    _environment(template, resources, "PrivacyWorkerFunction")
    # Pages of 1,000 (the setting's maximum; 500 by default): moto's queries cost time in
    # proportion to the table, so fewer of them keep this run to minutes.
    os.environ["YOOSR_PAGE_SIZE"] = "1000"
    import boto3

    from local.queues import lambda_sqs_record
    from tests.integration.privacy_support import Deadline
    from tests.support import load_function

    worker = load_function("privacy_worker")
    sqs = boto3.client("sqs")
    url = str(resources.ref("PrivacyJobsQueue"))
    arn = str(resources.get_att("PrivacyJobsQueue", "Arn"))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    invocations = 0
    started = time.monotonic()
    slowest = 0.0
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=900,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            break
        record = lambda_sqs_record(messages[0], arn, "us-east-1")
        took = time.monotonic()
        result = worker.lambda_handler({"Records": [record]}, Deadline(BUDGET_MS))
        slowest = max(slowest, time.monotonic() - took)
        assert result == {"batchItemFailures": []}, result
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        invocations += 1
    return {
        "invocations": invocations,
        # 7 without re-enqueueing: the start, five entities, the package
        "requeued": invocations - 7,
        "work_s": round(time.monotonic() - started),
        "slowest_invocation_s": round(slowest, 1),
        "baseline_rss_kb": baseline,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def check(endpoint: str, ws: str, request_id: str) -> dict[str, Any]:
    _, resources = _resources(endpoint)
    import boto3

    from yoosr.store import ddb

    item = ddb.get(
        str(resources.ref("PrivacyRequestsTable")), f"{ws}#PRIVACY#{request_id}", "REQUEST"
    )
    assert item is not None
    body = (
        boto3.client("s3")
        .get_object(Bucket=str(resources.ref("PrivacyExportsBucket")), Key=item["package_key"])[
            "Body"
        ]
        .read()
    )
    archive = zipfile.ZipFile(io.BytesIO(body))
    manifest = json.loads(archive.read("manifest.json"))
    sha_ok = all(
        hashlib.sha256(archive.read(f["path"])).hexdigest() == f["sha256"]
        for f in manifest["files"]
    )
    data_messages = len(json.loads(archive.read("data.json"))["entities"]["messages"])
    return {
        "status": item["status"],
        "counted_messages": item["counts"]["conversations.messages"],
        "manifest_messages": next(
            e["count"] for e in manifest["entities"] if e["name"] == "messages"
        ),
        "data_messages": data_messages,
        "sha256_ok": sha_ok,
        "zip_bytes": len(body),
        "data_json_bytes": next(f["bytes"] for f in manifest["files"] if f["path"] == "data.json"),
    }


def main(argv: list[str]) -> None:
    phase, endpoint, *rest = argv[1:]
    result = {"seed": seed, "work": work, "check": check}[phase](endpoint, *rest)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv)
