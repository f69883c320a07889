"""Fault injection for the quality suite 5 (tests/quality/test_faults.py).

A module-scoped stack built the way tests/integration/conftest.py builds the session one (moto,
resources from template.yaml, handlers imported with the template's environment), and the
injectors:

- `aws_fault`: a boto3 client of yoosr (yoosr.store.aws) fails chosen operations the first N
  times, before the call (throttling, S3 errors) or after it (the write happened, the answer
  was lost); the SDK's own retries have run out at that level.
- `aws_interleave`: a conditional-check race made deterministic (a second writer runs to the
  end between the first writer's reads and its conditional write).
- `crash`: a consumer's step raises, before or after its side effect.
- `EventSource`: a stream consumer fed the way Lambda's event source mapping feeds it (the local
  stack's StreamPoller: retry from the lowest failed record, bisect on a function error, the
  on-failure destination after MaximumRetryAttempts), with the DLQ read back.
- `CountingClient`: an HTTP handler client that counts what a visitor saw (5xx, retryable
  answers in the API.md shape).
- `Outcome`: one fault's figures, one row of the table.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.streams import StreamPoller
from local.workers import Invocation
from tests.integration.conftest import Stack, moto_stack
from tests.integration.routing_support import StreamTap
from tests.integration.widget_support import ORIGIN
from tests.support import HttpHandlerClient, LambdaContext, Response
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import aws

# ---------------------------------------------------------------- the stack


def fault_stack() -> contextlib.AbstractContextManager[Stack]:
    """The integration stack, built the same way (one per test module here)."""
    return moto_stack()


def new_workspace(stack: Stack, **settings: Any) -> dict[str, Any]:
    table = stack.table("WorkspacesTable")
    merged = {"allowed_origins": [ORIGIN], "identity_secret": "site-secret-123", **settings}
    made = provision_workspace(table, f"org_{uuid.uuid4().hex}", "Acme", merged)
    return {"id": made.workspace_id, "key": issue_widget_key(table, made.workspace_id)}


# ---------------------------------------------------------------- what a visitor saw


def retryable(response: Response) -> bool:
    """A 429/503 a client can act on: API.md error shape and a Retry-After."""
    return (
        response.status in (429, 503)
        and response.error_code in ("rate_limited", "unavailable")
        and bool(response.headers.get("retry-after"))
    )


class CountingClient(HttpHandlerClient):
    """Keeps every answer a visitor saw: 5xx that are not a retryable 503 (`server_errors`),
    retryable 429/503 (`retryables`)."""

    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.answers: list[Response] = []

    def call(self, sample: str, **kwargs: Any) -> Response:  # type: ignore[override]
        # Every visitor from an address of its own (by session), as on the web: the faults
        # are not meant to meet the per-IP write limit.
        session = str((kwargs.get("headers") or {}).get("authorization") or uuid.uuid4())
        digest = hashlib.sha256(session.encode()).digest()
        kwargs.setdefault("source_ip", f"10.{digest[0]}.{digest[1]}.{digest[2]}")
        response = super().call(sample, **kwargs)
        self.answers.append(response)
        return response

    @property
    def server_errors(self) -> list[Response]:
        return [r for r in self.answers if r.status >= 500 and not retryable(r)]

    @property
    def retryables(self) -> list[Response]:
        return [r for r in self.answers if retryable(r)]

    def reset(self) -> None:
        self.answers.clear()


# ---------------------------------------------------------------- AWS faults


@dataclass
class Injected:
    count: int = 0
    operations: list[str] = field(default_factory=list)


def once_per(*fields: str) -> Callable[[str, dict[str, Any]], bool]:
    """A `when` for aws_fault: each operation on each distinct value of `fields` (S3's Key …)
    fails once, so a retried request gets through."""
    seen: set[tuple[Any, ...]] = set()

    def first_time(operation: str, params: dict[str, Any]) -> bool:
        value = (operation, *(params.get(f) for f in fields))
        if value in seen:
            return False
        seen.add(value)
        return True

    return first_time


def client_error(operation: str, code: str, status: int, params: dict[str, Any]) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": "injected fault"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    if code == "TransactionCanceledException":
        # Cancelled by throttling: one reason per action (what DynamoDB sends).
        actions = params.get("TransactItems", [])
        response["CancellationReasons"] = [
            {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity."}
            for _ in actions
        ]
    return ClientError(response, operation)  # type: ignore[arg-type]


@contextlib.contextmanager
def aws_fault(
    service: str,
    operations: set[str],
    code: str,
    times: int,
    *,
    status: int = 400,
    after: bool = False,
    when: Callable[[str, dict[str, Any]], bool] | None = None,
) -> Iterator[Injected]:
    """yoosr's `service` client fails `operations` the first `times` times with `code`
    (after doing the call when `after`: the effect happened, the answer was lost)."""
    client = aws.client(service)
    real = client._make_api_call
    injected = Injected()
    lock = threading.Lock()

    def call(operation: str, params: dict[str, Any]) -> Any:
        with lock:
            hit = (
                operation in operations
                and injected.count < times
                and (when is None or when(operation, params))
            )
            if hit:
                injected.count += 1
                injected.operations.append(operation)
        if not hit:
            return real(operation, params)
        if after:
            real(operation, params)
        raise client_error(operation, code, status, params)

    client._make_api_call = call
    try:
        yield injected
    finally:
        del client._make_api_call


@contextlib.contextmanager
def crash(
    target: Any, name: str, *, when: str, times: int = 1, pass_first: int = 0, every: int = 2
) -> Iterator[Injected]:
    """`target.name` raises `times` times, on every `every`-th call after `pass_first` clean
    ones (so a redelivery gets through before the next crash: no record exhausts its retries),
    before running (`when="before"`: nothing happened) or after (`"after"`: the effect is
    stored, then the Lambda dies before reporting success)."""
    real = getattr(target, name)
    injected = Injected()
    calls = [0]

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        nth = calls[0] - pass_first
        due = nth > 0 and (nth - 1) % every == 0 and injected.count < times
        if due and when == "before":
            injected.count += 1
            raise RuntimeError("injected crash before the side effect")
        result = real(*args, **kwargs)
        if due and when == "after":
            injected.count += 1
            raise RuntimeError("injected crash after the side effect")
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(target, name, crashing)
        yield injected


# ---------------------------------------------------------------- stream event source


@dataclass
class EventSource:
    """A stream consumer fed as Lambda's event source mapping does (the local stack's
    StreamPoller, in process): batches of the template's size, retries from the lowest failed
    record, bisecting on function errors, and after MaximumRetryAttempts the on-failure
    destination (ConversationEventsDLQ, read back by `dead_letters`)."""

    stack: Stack
    function_logical_id: str
    handler: Callable[[dict[str, Any], Any], Any]
    invocations: int = 0
    failed_invocations: int = 0
    item_failures: int = 0

    def __post_init__(self) -> None:
        self.tap = StreamTap(self.stack, self.function_logical_id)
        self.dlq_url = str(self.stack.resources.ref("ConversationEventsDLQ"))
        self.sqs = boto3.client("sqs")
        self.poller = StreamPoller(
            self.tap.source,
            stream_arn=self.tap.arn,
            function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_logical_id}",
            streams_client=self.tap.client,
            invoke=self._invoke,
            send_failure=self._send_failure,
            stop=threading.Event(),
            region="us-east-1",
            retry_delay_s=0.0,
        )
        self.dead_letters()  # start from an empty DLQ

    def _invoke(self, _function: str, event: dict[str, Any]) -> Invocation:
        self.invocations += 1
        request_id = str(uuid.uuid4())
        try:
            result = self.handler(json.loads(json.dumps(event)), LambdaContext())
        except Exception as error:  # a function error: Lambda retries the whole batch
            self.failed_invocations += 1
            return Invocation("error", request_id, error={"errorType": type(error).__name__})
        self.item_failures += len((result or {}).get("batchItemFailures", []))
        return Invocation("ok", request_id, result)

    def _send_failure(self, _kind: str | None, _destination: Any, record: dict[str, Any]) -> None:
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(record))

    def pending(self) -> list[dict[str, Any]]:
        return self.tap.pending()

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Deliver `records` in batches of the template's size, with retries."""
        size = self.tap.source.batch_size
        for start in range(0, len(records), size):
            self.poller._deliver("shard-0", records[start : start + size], attempts=0)

    def drain(self, rounds: int = 5) -> list[dict[str, Any]]:
        """Deliver until the consumer's own writes bring no new selected records."""
        delivered: list[dict[str, Any]] = []
        for _ in range(rounds):
            records = self.pending()
            if not records:
                break
            self.deliver(records)
            delivered += records
        return delivered

    def dead_letters(self) -> list[dict[str, Any]]:
        """What the on-failure destination received since the last call (and empties it)."""
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"]
                )


def sequence_numbers(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def dead_lettered(
    notices: list[dict[str, Any]], records: list[dict[str, Any]]
) -> tuple[list[str], int]:
    """What on-failure notices name: the record each notice starts at (Lambda's checkpoint, the
    record that kept failing) and how many later records its range also covers (records after
    it in the retried batch, which every retry processed again)."""
    first: list[str] = []
    covered = 0
    numbers = sequence_numbers(records)
    for notice in notices:
        info = notice["DDBStreamBatchInfo"]
        low, high = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        first.append(str(info["startSequenceNumber"]))
        covered += sum(1 for s in numbers if low < int(s) <= high)
    return first, covered


# ---------------------------------------------------------------- one fault's figures


@dataclass
class Outcome:
    """One fault's figures: what was injected and what came of it."""

    injected: int = 0
    server_errors: int = 0  # visitor-visible 5xx (a retryable 503 in the API.md shape excluded)
    retryable: int = 0  # retryable 429/503 answers a client retried
    expected: int = 0  # effects that must happen
    completed: int = 0  # effects that happened
    duplicates: int = 0  # effects that happened more than once
    dead: list[str] = field(default_factory=list)  # what ended in the DLQ / failure path
    poison: list[str] = field(default_factory=list)  # what was poison
    notes: list[str] = field(default_factory=list)

    @property
    def completion(self) -> float:
        return 1.0 if self.expected == 0 else self.completed / self.expected

    @property
    def dlq_only_poison(self) -> bool:
        return sorted(self.dead) == sorted(self.poison)

    def problems(self) -> list[str]:
        found = []
        if self.injected < 1:
            found.append("nothing was injected")
        if self.server_errors:
            found.append(f"{self.server_errors} visitor-visible 5xx")
        if self.completed != self.expected:
            found.append(f"completed {self.completed} of {self.expected}")
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate effects")
        if not self.dlq_only_poison:
            found.append(f"DLQ holds {sorted(self.dead)}, poison was {sorted(self.poison)}")
        return found

    def row(self) -> str:
        dlq = f"{len(self.dead)} (poison {len(self.poison)})" if self.dead or self.poison else "0"
        text = (
            f"injected {self.injected} · 5xx {self.server_errors}"
            f" (retryable 429/503 {self.retryable}) · completed {self.completion:.0%}"
            f" ({self.completed}/{self.expected}) · duplicates {self.duplicates} · DLQ {dlq}"
        )
        return text + (f" · {'; '.join(self.notes)}" if self.notes else "")


BOUND = "5xx 0 · completed 100% · duplicates 0 · DLQ only poison"


@contextlib.contextmanager
def aws_interleave(
    service: str, operation: str, other: Callable[[], Any], *, times: int = 1
) -> Iterator[Injected]:
    """A conditional-check race, made deterministic: the first `times` calls of `operation`
    (by the writer under test) first let `other` (a second writer) run to the end, then go on
    with what they read before it: their condition checks meet the other writer's result."""
    client = aws.client(service)
    real = client._make_api_call
    injected = Injected()
    busy = [False]

    def call(name: str, params: dict[str, Any]) -> Any:
        if name == operation and not busy[0] and injected.count < times:
            injected.count += 1
            busy[0] = True
            try:
                other()
            finally:
                busy[0] = False
        return real(name, params)

    client._make_api_call = call
    try:
        yield injected
    finally:
        del client._make_api_call
