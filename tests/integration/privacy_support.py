"""Privacy test support: the five privacy functions configured from the template, an
organization with a widget key and dashboard tokens, a visitor on both widget APIs, the job
queue delivered to the worker (and the DLQ to its consumer) with real-shaped SQS events, the
SES outbox, and readers of everything stored for a subject."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3

from local.queues import lambda_sqs_record
from local.resources import function_environment
from local.template import load_template
from tests.integration.dashboard_support import configure_dashboard_env, dev_issuer
from tests.integration.widget_support import ORIGIN, Visitor
from tests.integration.workspace_support import DASHBOARD_ORIGIN, invoke, route_event
from tests.support import ROOT, HttpHandlerClient, Response, load_function
from yoosr import clock, ids
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import ddb, keys

EMAIL_IDENTITY = "yoosr.example"
FUNCTIONS = (
    "PrivacyWidgetFunction",
    "PrivacyWorkerFunction",
    "PrivacyFailuresFunction",
    "PrivacyScheduleFunction",
)


def configure(stack: Any) -> None:
    template = load_template(ROOT / "template.yaml")
    env: dict[str, str] = {}
    for function in FUNCTIONS:
        env.update(function_environment(template, function, stack.resources))
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ.update(env)
    configure_dashboard_env(stack, "PrivacyFunction")
    boto3.client("ses").verify_domain_identity(Domain=EMAIL_IDENTITY)


@dataclass
class Apps:
    """The privacy functions' modules, imported once per process like warm Lambdas."""

    dashboard: Any
    widget: Any
    worker: Any
    failures: Any
    schedule: Any


@cache
def _apps(stack_id: int) -> Apps:
    return Apps(
        dashboard=load_function("privacy"),
        widget=load_function("privacy_widget"),
        worker=load_function("privacy_worker"),
        failures=load_function("privacy_failures"),
        schedule=load_function("privacy_schedule"),
    )


def apps(stack: Any) -> Apps:
    configure(stack)
    loaded = _apps(id(stack))
    assert loaded.dashboard.settings.clerk_pem_public_key == dev_issuer().public_pem
    return loaded


# ---------------------------------------------------------------- callers


@dataclass
class Org:
    """A Clerk organization: its workspace (allowed origin, widget key), an admin, an agent."""

    stack: Any
    apps: Apps
    org_id: str = field(default_factory=lambda: f"org_{uuid.uuid4().hex[:20]}")
    admin_id: str = field(default_factory=lambda: f"user_admin{uuid.uuid4().hex[:12]}")
    agent_id: str = field(default_factory=lambda: f"user_agent{uuid.uuid4().hex[:12]}")
    widget_key: str = ""
    provision: bool = True

    def __post_init__(self) -> None:
        if not self.provision:  # an organization another suite's helper set up
            return
        table = self.stack.table("WorkspacesTable")
        provision_workspace(
            table, self.org_id, "Acme", {"allowed_origins": [ORIGIN], "identity_secret": "s3cret"}
        )
        self.widget_key = issue_widget_key(table, self.ws)

    @property
    def ws(self) -> str:
        return ids.workspace_id_for_org(self.org_id)

    def token(self, role: str = "admin") -> str:
        """An admin's token, or an agent's (a Clerk `member`)."""
        if role == "admin":
            return dev_issuer().mint(self.org_id, self.admin_id, "admin", azp=DASHBOARD_ORIGIN)
        return dev_issuer().mint(self.org_id, self.agent_id, "member", azp=DASHBOARD_ORIGIN)

    def call(
        self,
        method: str,
        template: str,
        *,
        role: str = "admin",
        body: Any = None,
        query: str = "",
        **params: str,
    ) -> Response:
        event = route_event(
            method,
            template,
            params=params,
            headers={"authorization": f"Bearer {self.token(role)}", "origin": DASHBOARD_ORIGIN},
            body=body,
            query=query,
        )
        return invoke(self.apps.dashboard.lambda_handler, event)

    def create(self, body: dict[str, Any], role: str = "admin") -> Response:
        return self.call("POST", "/v1/privacy/requests", body=body, role=role)

    def get(self, request_id: str) -> Response:
        return self.call("GET", "/v1/privacy/requests/{request_id}", request_id=request_id)

    def decide(
        self, request_id: str, action: str, body: Any = None, role: str = "admin"
    ) -> Response:
        return self.call(
            "POST",
            f"/v1/privacy/requests/{{request_id}}/{action}",
            request_id=request_id,
            body=body if body is not None else {},
            role=role,
        )


class PrivacyVisitor(Visitor):
    """A widget visitor who also calls the privacy widget routes (same key, origin, session)."""

    def __init__(self, widget: HttpHandlerClient, privacy: HttpHandlerClient, key: str) -> None:
        super().__init__(widget, key)
        self.privacy = privacy

    def privacy_call(self, sample: str, **kwargs: Any) -> Response:
        headers = self.headers(**kwargs.pop("headers", {}))
        return self.privacy.call(sample, headers=headers, **kwargs)

    def ask(self, body: dict[str, Any]) -> Response:
        return self.privacy_call("privacy_widget_create_request", json_body=body)

    def status(self, request_id: str) -> Response:
        return self.privacy_call(
            "privacy_widget_get_request", path_params={"request_id": request_id}
        )

    def verify(self, request_id: str, code: str) -> Response:
        return self.privacy_call(
            "privacy_widget_verify",
            path_params={"request_id": request_id},
            json_body={"code": code},
        )

    def download(self, request_id: str) -> Response:
        return self.privacy_call("privacy_widget_download", path_params={"request_id": request_id})


def visitor(
    stack: Any, apps_: Apps, widget: HttpHandlerClient, org: Org, **session: Any
) -> PrivacyVisitor:
    v = PrivacyVisitor(widget, HttpHandlerClient(apps_.widget.lambda_handler), org.widget_key)
    v.start_session(session or None)
    return v


# ---------------------------------------------------------------- the queues


class Deadline:
    """A Lambda context whose remaining time runs down with the wall clock."""

    def __init__(self, budget_ms: int) -> None:
        self.started = time.monotonic()
        self.budget_ms = budget_ms
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "privacy-worker"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:privacy"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.budget_ms - int((time.monotonic() - self.started) * 1000))


@dataclass
class QueueTap:
    """Receives from a moto queue and invokes a consumer with Lambda-shaped SQS records,
    deleting what succeeded (ReportBatchItemFailures), as the event source mapping does.
    Messages are received with no visibility timeout, so a failed one is received again at
    once (and moves to the DLQ after maxReceiveCount receives, by moto's redrive)."""

    stack: Any
    queue_logical_id: str
    batch_size: int = 1
    invocations: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = boto3.client("sqs")
        self.url = str(self.stack.resources.ref(self.queue_logical_id))
        self.arn = str(self.stack.resources.get_att(self.queue_logical_id, "Arn"))

    def receive(self, limit: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=limit,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def bodies(self) -> list[dict[str, Any]]:
        """What is waiting, without consuming it."""
        return [json.loads(m["Body"]) for m in self.receive(10)]

    def deliver(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        budget_ms: int = 60_000,
        max_invocations: int = 500,
        before: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> int:
        """Invoke `handler` until the queue is empty; returns the invocations made."""
        made = 0
        while made < max_invocations:
            messages = self.receive(self.batch_size)
            if not messages:
                return made
            records = [lambda_sqs_record(m, self.arn, "us-east-1") for m in messages]
            if before:
                before()
            try:
                result = handler({"Records": copy.deepcopy(records)}, Deadline(budget_ms))
            except Exception:  # an invocation error: Lambda returns the whole batch
                result = {
                    "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]
                }
            if after:
                after()
            made += 1
            self.invocations += 1
            self.results.append(result)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            done = [
                m for m, r in zip(messages, records, strict=True) if r["messageId"] not in failed
            ]
            for message in done:
                self.client.delete_message(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                )
        raise AssertionError(f"the queue did not drain in {max_invocations} invocations")


def jobs(stack: Any) -> QueueTap:
    return QueueTap(stack, "PrivacyJobsQueue")


def dead_letters(stack: Any) -> QueueTap:
    return QueueTap(stack, "PrivacyJobsDLQ", batch_size=10)


def run_jobs(stack: Any, apps_: Apps, **kwargs: Any) -> int:
    return jobs(stack).deliver(apps_.worker.lambda_handler, **kwargs)


# ---------------------------------------------------------------- time


@contextlib.contextmanager
def frozen_clock(start: datetime | None = None) -> Iterator[list[datetime]]:
    """yoosr's clock, stopped at now[0]; the test moves it."""
    now = [start or datetime.now(UTC).replace(microsecond=0)]

    def read() -> float:
        return now[0].timestamp()

    clock.freeze(read)
    try:
        yield now
    finally:
        clock.unfreeze()


# ---------------------------------------------------------------- logs


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line the functions write (Powertools JSON, extras included) while inside."""
    from yoosr.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger._logger.removeHandler(handler)


# ---------------------------------------------------------------- email


def outbox(recipient: str) -> list[dict[str, Any]]:
    """What SES (moto) was asked to send to `recipient`, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [
        {"from": m.source, "subject": m.subject, "body": m.body}
        for m in backend.sent_messages
        if recipient in m.destinations.get("ToAddresses", [])
    ]


def last_code(recipient: str) -> str:
    sent = outbox(recipient)
    assert sent, f"no email to {recipient}"
    found = re.search(r"\b(\d{6})\b", sent[-1]["body"])
    assert found, sent[-1]
    return found.group(1)


# ---------------------------------------------------------------- stored items


def request_item(stack: Any, ws: str, request_id: str) -> dict[str, Any] | None:
    return ddb.get(stack.table("PrivacyRequestsTable"), f"{ws}#PRIVACY#{request_id}", "REQUEST")


def partition(stack: Any, table: str, pk: str) -> list[dict[str, Any]]:
    """Every item of a partition, expired ones included."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        args: dict[str, Any] = {
            "TableName": stack.table(table),
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if start:
            args["ExclusiveStartKey"] = start
        response = client.query(**args)
        items += [ddb.from_av(i) for i in response.get("Items", [])]
        start = response.get("LastEvaluatedKey")
        if not start:
            return items


def scan_all(stack: Any, logical_id: str) -> list[dict[str, Any]]:
    """Every item of a table (tests only: the no-residue proof)."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        args: dict[str, Any] = {"TableName": stack.table(logical_id)}
        if start:
            args["ExclusiveStartKey"] = start
        response = client.scan(**args)
        items += [ddb.from_av(i) for i in response.get("Items", [])]
        start = response.get("LastEvaluatedKey")
        if not start:
            return items


def bucket_objects(stack: Any, prefix: str = "") -> dict[str, bytes]:
    s3 = boto3.client("s3")
    bucket = str(stack.resources.ref("PrivacyExportsBucket"))
    found: dict[str, bytes] = {}
    for entry in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        found[entry["Key"]] = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
    return found


def session_item(stack: Any, ws: str, token: str) -> dict[str, Any] | None:
    return ddb.get(stack.table("EphemeralTable"), *keys.session(ws, ids.digest(token)))
