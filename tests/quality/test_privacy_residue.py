"""Suite 7 of issue 8: privacy residue.

The full demo scenario under moto, through the real APIs and consumers: a visitor gives their
name, email and phone, chats, the bot answers (scripted model), they ask for a human, the
router hands the conversation to an agent who replies and resolves, the visitor rates it with a
comment, the analytics consumer counts it all, and the visitor's export package is produced.
Then an admin erases the subject named by the email (privacy API, then the privacy worker),
and the late stream records are delivered to every consumer again (at-least-once).

Afterwards every store the template declares is read whole (every table and every index by
Scan, every object of every bucket with zip packages opened, every message of every queue
received without deleting, every secret) and so is every log line captured during the whole
scenario (the functions' Powertools logger, Python logging, stdout and stderr), looking for
the subject's identifiers: email, phone, name, visitor id, session token and its digest,
conversation ids and what they wrote, raw, lower-cased and URL-encoded. Figures: stores,
items and log lines scanned, hits outside the audit and tombstone records (bound 0), and the
audit and tombstone records that hold only the keyed hash.

The stores come from template.yaml, so a new table, bucket or queue is scanned without
editing this file; a resource type that holds data and that this suite cannot read fails it.
The short and the long variant are the same scenario; its time is recorded, not bounded.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest

from tests.integration import conftest as integration
from tests.integration import privacy_support as ps
from tests.integration.analytics_support import analytics_events, analytics_tap, privacy_tap
from tests.integration.bot_admin_support import BotOrg, bot_client
from tests.integration.bot_support import (
    FakeOpenRouter,
    bot_tap,
    completion,
    configure_bot_env,
    decision,
    say,
    use_model,
)
from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.integration.test_privacy_erasure import variants
from tests.quality import figures
from tests.support import HttpHandlerClient, load_function
from yoosr import ids
from yoosr.domain import hashing
from yoosr.observability import metrics

# The integration suites' fixtures: one moto for the session, resources from template.yaml.
stack = integration.stack
widget = integration.widget

SUITE = "residue"
TABLE, BUCKET, QUEUE, SECRET = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
)
SCANNED_TYPES = (TABLE, BUCKET, QUEUE, SECRET)
# Resource types that keep data this suite does not know how to read: a template that adds one
# fails here until the suite learns to scan it.
UNSCANNED_DATA_TYPES = {
    "AWS::Serverless::SimpleTable",
    "AWS::SNS::Topic",
    "AWS::Kinesis::Stream",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Events::Archive",
    "AWS::SSM::Parameter",
    "AWS::EFS::FileSystem",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::OpenSearchService::Domain",
    "AWS::Timestream::Table",
    "AWS::StepFunctions::StateMachine",
}

# Opaque random ids the functions log for correlation (ARCHITECTURE.md: logs hold no personal
# data or message text). Once the subject is erased no store links them to anyone (the store
# scan proves it), so in log lines they are counted apart, not as hits.
OPAQUE_IN_LOGS = ("conversation id",)

FLOW: dict[str, Any] = {
    "name": "Residue proof",
    "start_step": "greet",
    "handoff_message": "Let me connect you with someone from our team.",
    "active": True,
    "steps": [
        {"id": "greet", "type": "message", "text": "Hi! I'm the shop's assistant.", "next": "ask"},
        {
            "id": "ask",
            "type": "ai_answer",
            "prompt": "Ask away.",
            "next_on_answer": "ask",
            "on_no_answer": "to_human",
        },
        {"id": "to_human", "type": "handoff", "message": "Connecting you with our team."},
    ],
}


def model_reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=completion(decision("Parcels arrive in three to five days.")))


# ---------------------------------------------------------------- the subject


@dataclass
class Subject:
    """Everything that identifies the erased visitor, as given and as stored."""

    name: str
    email: str
    phone: str
    texts: list[str]
    visitor_id: str = ""
    token: str = ""
    conversations: list[str] = field(default_factory=list)

    def identifiers(self) -> dict[str, str]:
        surname = self.name.split()[-1]
        found = {
            "email": self.email,
            "phone": self.phone,
            "phone (normalised)": hashing.normalise_phone(self.phone),
            "phone (digits)": hashing.normalise_phone(self.phone).lstrip("+"),
            "name": self.name,
            "surname": surname,
            "visitor id": self.visitor_id,
            "session token": self.token,
            "session token digest": ids.digest(self.token),
        }
        for n, conversation_id in enumerate(self.conversations):
            found[f"conversation id {n}"] = conversation_id
        for n, text in enumerate(self.texts):
            found[f"text {n}"] = text
        return found

    def needles(self) -> dict[str, str]:
        """Lower-cased needle → what it is (raw, lower-cased and URL-encoded forms)."""
        out: dict[str, str] = {}
        for what, value in self.identifiers().items():
            assert value, what
            for form in variants(value):
                out[form.lower()] = what
        return out


# ---------------------------------------------------------------- the scenario


@dataclass
class Captured:
    logs: io.StringIO
    root: io.StringIO
    stdout: str = ""
    stderr: str = ""

    def lines(self) -> list[str]:
        text = "\n".join((self.logs.getvalue(), self.root.getvalue(), self.stdout, self.stderr))
        return [line for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def root_logging() -> Iterator[io.StringIO]:
    """Every record that reaches Python's root logger at INFO or above (boto, moto, httpx …)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@dataclass
class Outcome:
    subject: Subject
    ws: str
    request_id: str
    request: dict[str, Any]
    subject_key: str
    captured: Captured | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    load: float = 0.0


def _scenario(stack: Any, widget: HttpHandlerClient, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    configure_bot_env(stack)
    bot = load_function("bot_reply_events")
    use_model(monkeypatch, bot, FakeOpenRouter(model_reply))
    routing = load_function("agent_routing_events")
    analytics = analytics_events(stack)
    taps = [
        (bot_tap(stack), bot),
        (StreamTap(stack, "AgentRoutingEventsFunction"), routing),
        (analytics_tap(stack), analytics),
        (privacy_tap(stack), analytics),
    ]

    def consumers_catch_up() -> None:
        for tap, module in taps:
            tap.deliver(module.lambda_handler)

    # Given a workspace with a support department, an agent online and a bot flow
    team = Team(Org(agent_routing_client(stack)), widget, stack)
    support = team.department("Support")
    team.agent("u1", [support])
    bots = BotOrg(
        bot_client(stack),
        org_id=team.org.org_id,
        admin_id=team.org.admin_id,
        agent_id=team.org.agent_id,
    )
    bots.create_flow({**FLOW, "default_department_id": support})
    apps = ps.apps(stack)
    org = ps.Org(
        stack,
        apps,
        org_id=team.org.org_id,
        admin_id=team.org.admin_id,
        agent_id=team.org.agent_id,
        widget_key=team.widget_key,
        provision=False,
    )
    marker = uuid.uuid4().hex[:6]
    subject = Subject(
        name=f"Ada Quillfeather{marker.upper()}",
        email=f"Ada.Quill-{marker}@Example.org",
        phone=f"+44 7700 9{int(marker, 16) % 100000:05d}",
        texts=[
            f"Where is my parcel {marker}? I ordered it on Monday",
            f"Please call me back about order {marker}",
            f"Slow but kind {marker}",
        ],
    )

    # When the visitor gives their details and chats: the bot answers, then a human does
    visitor = ps.visitor(stack, apps, widget, org)
    subject.visitor_id, subject.token = str(visitor.visitor_id), str(visitor.token)
    details = {"name": subject.name, "email": subject.email, "phone": subject.phone}
    assert visitor.call("widget_update_visitor", json_body=details).status == 200
    conversation = visitor.start_conversation(text=None)
    subject.conversations.append(conversation)
    consumers_catch_up()  # the greeting
    say(visitor, conversation, subject.texts[0])
    consumers_catch_up()  # the model's answer
    assert any(
        "three to five days" in str(m.get("text"))
        for m in visitor.messages(conversation).json["items"]
    ), "the bot did not answer"
    assert ask_for_human(visitor, conversation).status in (200, 202)
    consumers_catch_up()  # routed to u1
    say(visitor, conversation, subject.texts[1])
    token = team.members["u1"].token
    for action, body in (
        ("post_message", {"text": "Hi, I will call you this afternoon."}),
        ("resolve", {}),
    ):
        response = team.inbox(
            action, token, path_params={"conversation_id": conversation}, json_body=body
        )
        assert response.status in (200, 201), response.body
    rated = visitor.call(
        "widget_submit_csat",
        path_params={"conversation_id": conversation},
        json_body={"rating": 4, "comment": subject.texts[2]},
    )
    assert rated.status in (200, 201), rated.body
    consumers_catch_up()  # analytics counts it all

    # And the visitor's export package is produced
    exported = visitor.ask({"type": "export"})
    assert exported.status == 201, exported.body
    ps.run_jobs(stack, apps)
    package = ps.bucket_objects(stack, f"{org.ws}/{exported.json['id']}/")
    assert package, "no export package"
    unpacked = b"\n".join(_unpacked(body) for body in package.values()).lower()
    assert all(v.lower().encode() in unpacked for v in (subject.email, subject.texts[0])), (
        "the export does not hold the subject's data: the residue scan would prove nothing"
    )

    # And an admin erases the subject named by the email
    created = org.create({"type": "delete", "subject": {"email": subject.email}})
    assert created.status == 201, created.body
    ps.run_jobs(stack, apps)
    consumers_catch_up()  # late stream records (removes, audit events) reach every consumer
    ps.run_jobs(stack, apps)
    request = ps.request_item(stack, org.ws, created.json["id"])
    assert request is not None and request["status"] == "completed", request
    assert visitor.call("widget_list_conversations").status == 401
    key = apps.worker.resources.subject_key()
    return Outcome(subject, org.ws, created.json["id"], request, key)


@pytest.fixture(scope="module")
def outcome(stack: Any, widget: HttpHandlerClient) -> Iterator[Outcome]:
    monkeypatch = pytest.MonkeyPatch()
    if metrics.provider.namespace is None:  # yoosr was imported before the test environment
        monkeypatch.setattr(metrics.provider, "namespace", "Yoosr")
    out, err = io.StringIO(), io.StringIO()
    load = os.getloadavg()[0]
    t0, cpu0 = time.monotonic(), time.process_time()
    with (
        ps.captured_logs() as logs,
        root_logging() as root,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            result = _scenario(stack, widget, monkeypatch)
        finally:
            monkeypatch.undo()
    result.captured = Captured(logs, root, out.getvalue(), err.getvalue())
    result.seconds = time.monotonic() - t0
    result.cpu_seconds = time.process_time() - cpu0
    result.load = load
    yield result


# ---------------------------------------------------------------- reading every store


@dataclass
class Place:
    store: str  # logical id (and index) of the store
    key: str  # what in it: an item key, an object key, a message id
    text: str  # everything it holds, lower-cased

    def is_audit_or_tombstone(self) -> bool:
        return self.store.startswith("PrivacyRequestsTable") and (
            "|audit#" in self.key or self.key.endswith("|tombstone")
        )


def _unpacked(body: bytes, depth: int = 0) -> bytes:
    """The bytes of an object, with the members of a zip package (and zips in it) appended."""
    if depth < 3 and body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as package:
            parts = [name.encode() + b"\n" + _unpacked(package.read(name), depth + 1)
                     for name in package.namelist()]  # fmt: skip
        return body + b"\n".join(parts)
    return body


def _scan_pages(client: Any, **args: Any) -> Iterator[dict[str, Any]]:
    start = None
    while True:
        page = client.scan(**args, **({"ExclusiveStartKey": start} if start else {}))
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _item_key(item: dict[str, Any]) -> str:
    def plain(value: Any) -> str:
        return str(next(iter(value.values()))) if isinstance(value, dict) else str(value)

    return f"{plain(item.get('pk'))}|{plain(item.get('sk'))}".lower()


def read_tables(stack: Any) -> tuple[list[Place], list[str]]:
    client = boto3.client("dynamodb")
    places, stores = [], []
    for logical_id, resource in stack.resources.by_type(TABLE).items():
        table = resource.ref
        stores.append(logical_id)
        places += [
            Place(logical_id, _item_key(i), json.dumps(i, default=str).lower())
            for i in _scan_pages(client, TableName=table)
        ]
        described = client.describe_table(TableName=table)["Table"]
        indexes = described.get("GlobalSecondaryIndexes", []) + described.get(
            "LocalSecondaryIndexes", []
        )
        for index in indexes:
            name = f"{logical_id}/{index['IndexName']}"
            stores.append(name)
            places += [
                Place(name, _item_key(i), json.dumps(i, default=str).lower())
                for i in _scan_pages(client, TableName=table, IndexName=index["IndexName"])
            ]
    return places, stores


def read_buckets(stack: Any) -> tuple[list[Place], list[str]]:
    s3 = boto3.client("s3")
    places, stores = [], []
    for logical_id, resource in stack.resources.by_type(BUCKET).items():
        stores.append(logical_id)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=resource.ref):
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                text = entry["Key"]
                if "Size" in entry:  # a version, not a delete marker
                    body = s3.get_object(
                        Bucket=resource.ref, Key=entry["Key"], VersionId=entry["VersionId"]
                    )["Body"].read()
                    text += "\n" + _unpacked(body).decode("latin-1")
                places.append(Place(logical_id, entry["Key"], text.lower()))
    return places, stores


def read_queues(stack: Any) -> tuple[list[Place], list[str]]:
    """Every message of every queue, received without deleting and made visible again."""
    sqs = boto3.client("sqs")
    places, stores = [], []
    for logical_id, resource in stack.resources.by_type(QUEUE).items():
        stores.append(logical_id)
        held: list[str] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=resource.ref,
                MaxNumberOfMessages=10,
                VisibilityTimeout=120,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for m in messages:
                held.append(m["ReceiptHandle"])
                places.append(Place(logical_id, m["MessageId"], json.dumps(m).lower()))
        for handle in held:
            sqs.change_message_visibility(
                QueueUrl=resource.ref, ReceiptHandle=handle, VisibilityTimeout=0
            )
    return places, stores


def read_secrets(stack: Any) -> tuple[list[Place], list[str]]:
    client = boto3.client("secretsmanager")
    places, stores = [], []
    for logical_id, resource in stack.resources.by_type(SECRET).items():
        stores.append(logical_id)
        value = client.get_secret_value(SecretId=resource.ref).get("SecretString", "")
        places.append(Place(logical_id, "value", value.lower()))
    return places, stores


def hits(places: list[Place], needles: dict[str, str]) -> list[tuple[Place, str]]:
    return [(p, what) for p in places for needle, what in needles.items() if needle in p.text]


# ---------------------------------------------------------------- the proof


def test_the_stores_come_from_the_template(stack: Any) -> None:
    template = stack.resources.template
    declared = {k for k, v in template.resources.items() if v.get("Type") in SCANNED_TYPES}
    created = {k for t in SCANNED_TYPES for k in stack.resources.by_type(t)}
    assert declared and declared == created, declared ^ created
    unknown = {
        k: v["Type"] for k, v in template.resources.items() if v["Type"] in UNSCANNED_DATA_TYPES
    }
    assert unknown == {}, f"teach the residue suite to read {unknown}"


def test_nothing_of_the_erased_subject_is_left(stack: Any, outcome: Outcome) -> None:
    needles = outcome.subject.needles()
    t0, cpu0 = time.monotonic(), time.process_time()
    places: list[Place] = []
    stores: list[str] = []
    for read in (read_tables, read_buckets, read_queues, read_secrets):
        found, names = read(stack)
        places += found
        stores += names
    scan_seconds, scan_cpu = time.monotonic() - t0, time.process_time() - cpu0
    assert outcome.captured is not None
    lines = outcome.captured.lines()
    in_logs = [(line, what) for line in lines for n, what in needles.items() if n in line.lower()]
    log_hits = [(line, what) for line, what in in_logs if not what.startswith(OPAQUE_IN_LOGS)]
    opaque_lines = {line for line, what in in_logs if what.startswith(OPAQUE_IN_LOGS)}
    found = hits(places, needles)
    outside = [(p.store, p.key, what) for p, what in found if not p.is_audit_or_tombstone()]
    inside = [(p.store, p.key, what) for p, what in found if p.is_audit_or_tombstone()]

    # The audit and tombstone records of the workspace: present, holding only keyed hashes
    records = [p for p in places if p.is_audit_or_tombstone() and outcome.ws.lower() in p.key]
    email_hash = hashing.subject_hash(outcome.subject_key, "email", outcome.subject.email)
    tombstones = [p for p in records if p.key.endswith("|tombstone")]
    audits = [p for p in records if outcome.request_id.lower() in p.key]
    clean = [p for p in records if not any(n in p.text for n in needles)]

    figures.record(
        SUITE,
        "stores scanned (tables, indexes, buckets, queues, secrets)",
        len(stores),
        note=", ".join(stores),
    )
    figures.record(SUITE, "items scanned (items, objects, messages, secrets)", len(places))
    figures.record(SUITE, "log lines scanned", len(lines))
    figures.record(SUITE, "identifier forms searched (raw, lower-cased, URL-encoded)", len(needles))
    figures.record(
        SUITE,
        "hits in stores outside audit/tombstone records",
        len(outside),
        bound="0",
        ok=not outside,
        note="; ".join(f"{s} {k} {w}" for s, k, w in outside[:5]),
    )
    figures.record(
        SUITE,
        "hits of personal identifiers in log lines",
        len(log_hits),
        bound="0",
        ok=not log_hits,
        note="; ".join(sorted({w for _, w in log_hits})),
    )
    figures.record(
        SUITE,
        "log lines naming an erased conversation id (opaque, unlinkable after erasure)",
        len(opaque_lines),
        note="random ids logged for correlation; after erasure no store links them to the "
        "subject (0 store hits), and logs expire after LogRetentionDays",
    )
    figures.record(
        SUITE,
        "audit/tombstone records holding only the keyed hash",
        f"{len(clean)} of {len(records)}",
        bound="all",
        ok=bool(records) and len(clean) == len(records),
    )
    cpu = outcome.cpu_seconds + scan_cpu
    figures.record(
        SUITE,
        "scenario and scan CPU time (s)",
        cpu,
        note="measured, not bounded: timing belongs to `make bench`, not to a test",
    )
    figures.record(
        SUITE,
        "scenario and scan wall time (s)",
        outcome.seconds + scan_seconds,
        note=f"load average {outcome.load:.1f} on {os.cpu_count()} CPUs",
    )

    assert len(stores) >= 8 and len(places) > 50 and len(lines) > 10, (stores, len(lines))
    logged = "\n".join(lines)
    for message in ("conversation started", "bot turn", "handed off", "privacy request completed"):
        assert message in logged, f"the log capture missed {message!r}"
    assert outside == [], outside
    assert log_hits == [], sorted({(w, line[:160]) for line, w in log_hits})
    assert inside == [], inside  # audit and tombstone records hold no identifier either
    assert audits and tombstones, (len(audits), len(tombstones))
    assert any(email_hash.lower() in p.text for p in tombstones + audits), (
        "no audit or tombstone record names the subject by its keyed hash"
    )


def test_the_scan_finds_what_is_there(stack: Any, outcome: Outcome) -> None:
    """The same scan, with a needle planted in a table, an index, an object inside a zip, a
    queue message and a log line: each one is found (a scan that reads nothing fails here)."""
    canary = f"canary-{uuid.uuid4().hex[:10]}@example.net"
    tables = stack.resources.by_type(TABLE)
    bucket = next(iter(stack.resources.by_type(BUCKET).values())).ref
    queue = next(iter(stack.resources.by_type(QUEUE).values())).ref
    table_name = tables["VisitorsTable"].ref
    client = boto3.client("dynamodb")
    described = client.describe_table(TableName=table_name)["Table"]
    index = described["GlobalSecondaryIndexes"][0]
    item = {
        "pk": {"S": f"{outcome.ws}#CANARY"},
        "sk": {"S": "CANARY"},
        "note": {"S": canary.upper()},
    }
    for attribute in index["KeySchema"]:
        item[attribute["AttributeName"]] = {"S": f"{outcome.ws}#{canary}"}
    client.put_item(TableName=table_name, Item=item)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/visitor.json", json.dumps({"email": canary}))
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=f"{outcome.ws}/canary.zip", Body=packed.getvalue())
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"e": canary.replace("@", "%40")}))
    try:
        places: list[Place] = []
        for read in (read_tables, read_buckets, read_queues):
            places += read(stack)[0]
        planted = {f.lower(): "canary" for f in variants(canary)}
        found = {
            p.store.split("/")[0] + ("/index" if "/" in p.store else "")
            for p, _ in hits(places, planted)
        }
        assert found >= {"VisitorsTable", "VisitorsTable/index"}, found
        assert any(s in found for s in stack.resources.by_type(BUCKET)), found
        assert any(s in found for s in stack.resources.by_type(QUEUE)), found
        # the queue message is still there for its consumer (received, not deleted)
        assert any(canary.replace("@", "%40") in p.text for p in read_queues(stack)[0])
    finally:
        client.delete_item(TableName=table_name, Key={"pk": item["pk"], "sk": item["sk"]})
        s3.delete_object(Bucket=bucket, Key=f"{outcome.ws}/canary.zip")
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            if "canary-" in m["Body"]:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
