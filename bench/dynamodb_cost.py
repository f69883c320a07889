"""DynamoDB requests and capacity per widget operation, through the real handlers.

widget_ingest and inbox_events are imported in this process (as the integration tests do)
with their template environment, against the moto server. A Meter hooks the one DynamoDB
client yoosr uses (yoosr.store.aws.client) and its Secrets Manager client, so every request
the handlers make is counted; capacity is computed from the items (bench/capacity.py).
Rate limits are lifted so the runs are not cut short; the limiter's writes still happen.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from bench.capacity import Meter, Usage, schemas_from_template, summarise
from tests.support import HttpHandlerClient, LambdaContext, Response, load_function, sample_event

SHORT_TEXT = "Hi! Is order 4417 already on its way? I ordered it on Monday. ({n})"
LONG_TEXT = ("Here are the details of the problem, step by step. " * 60)[:3_000]


@dataclass(frozen=True)
class Workload:
    sessions: int = 5
    messages: int = 50
    long_messages: int = 10
    polls: int = 20


@dataclass(frozen=True)
class Tenant:
    workspace_id: str
    widget_key: str
    origin: str


Headers = dict[str, str | None]


class Scenario:
    """Adds up a Meter's usage over repeated calls of one operation."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.usage = Usage()
        self.count = 0

    def __call__(self, action: Callable[[], Response], expect: int) -> Response:
        before = self.meter.usage.copy()
        response = action()
        if response.status != expect:
            raise RuntimeError(f"expected {expect}, got {response.status}: {response.body}")
        self.add(self.meter.usage.minus(before))
        return response

    def add(self, spent: Usage, count: int = 1) -> None:
        self.usage = self.usage.plus(spent)
        self.count += count

    def summary(self) -> dict[str, Any]:
        return summarise(self.usage, self.count)


def _prepare_environment(function_env: Mapping[str, str]) -> None:
    os.environ.update(function_env)
    os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ.update(
        {
            "YOOSR_RATE_SESSION_WRITES": "100000",
            "YOOSR_RATE_SESSION_READS": "100000",
            "YOOSR_RATE_IP_WRITES": "100000",
            "YOOSR_RATE_WORKSPACE_WRITES": "100000",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )


def _stream_batch(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A Conversations stream batch of INSERT records for stored message items."""
    template = sample_event("inbox_events_visitor_message")["Records"][0]
    records = []
    for number, item in enumerate(items, start=1):
        change = {
            **template["dynamodb"],
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": dict(item),
            "SequenceNumber": f"{number:024d}",
        }
        records.append({**template, "eventID": f"bench-{number}", "dynamodb": change})
    return {"Records": records}


def measure(
    template: Any,
    resources: Any,
    function_env: Mapping[str, str],
    tenant: Tenant,
    workload: Workload,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Per-operation averages; the handlers' stdout (EMF metrics) and warnings are muted."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _prepare_environment(function_env)
        return _Run(template, resources, tenant, log).run(workload)


class _Run:
    def __init__(
        self, template: Any, resources: Any, tenant: Tenant, log: Callable[[str], None]
    ) -> None:
        from yoosr.store import aws, keys  # noqa: PLC0415 - after the environment is set

        self.keys = keys
        self.widget = HttpHandlerClient(load_function("widget_ingest").lambda_handler)
        self.inbox_events = load_function("inbox_events")
        self.tenant = tenant
        self.log = log
        tables = {
            logical_id: str(resources.ref(logical_id))
            for logical_id, resource in template.resources.items()
            if resource.get("Type") == "AWS::DynamoDB::Table"
        }
        self.conversations_table = tables["ConversationsTable"]
        self.probe = boto3.Session().client("dynamodb", region_name="us-east-1")
        self.meter = Meter(schemas_from_template(template.resources, tables), self.probe)
        self.meter.attach(aws.client("dynamodb"), aws.client("secretsmanager"))
        self.base: Headers = {"x-yoosr-widget-key": tenant.widget_key, "origin": tenant.origin}

    def _session(self, scenario: Scenario) -> Headers:
        response = scenario(
            lambda: self.widget.call(
                "widget_create_session",
                headers=self.base,
                json_body={"page_url": "https://shop.example/pricing"},
            ),
            201,
        )
        return {**self.base, "authorization": f"Bearer {response.json['session_token']}"}

    def _start(self, scenario: Scenario, auth: Headers, number: int) -> str:
        body = {
            "client_conversation_id": f"c-{number}",
            "message": {"client_message_id": f"first-{number}", "text": "Hello!"},
        }
        response = scenario(
            lambda: self.widget.call("widget_start_conversation", headers=auth, json_body=body),
            201,
        )
        return str(response.json["id"])

    def _post(
        self,
        scenario: Scenario,
        auth: Headers,
        conversation_id: str,
        client_id: str,
        text: str,
    ) -> str:
        body = {"client_message_id": client_id, "text": text}
        response = scenario(
            lambda: self.widget.call(
                "widget_post_message",
                path_params={"conversation_id": conversation_id},
                headers=auth,
                json_body=body,
            ),
            201,
        )
        return str(response.json["id"])

    def _consume(self, scenario: Scenario, conversation_id: str, message_ids: list[str]) -> None:
        """Feed the stream consumer the INSERT records of the given messages, as one batch."""
        pk = self.keys.conversation_pk(self.tenant.workspace_id, conversation_id)
        stored = [
            self.probe.get_item(
                TableName=self.conversations_table,
                Key={"pk": {"S": pk}, "sk": {"S": self.keys.MESSAGE_PREFIX + message_id}},
                ConsistentRead=True,
            )["Item"]
            for message_id in message_ids
        ]
        before = self.meter.usage.copy()
        result = self.inbox_events.lambda_handler(_stream_batch(stored), LambdaContext())
        if result.get("batchItemFailures"):
            raise RuntimeError(f"inbox_events reported failures: {result}")
        scenario.add(self.meter.usage.minus(before), len(stored))

    def run(self, workload: Workload) -> dict[str, Any]:
        s = {
            name: Scenario(self.meter)
            for name in (
                "session_create",
                "conversation_start_with_message",
                "visitor_message",
                "visitor_message_3000_chars",
                "poll_no_new_messages",
                "inbox_events_per_message",
                "inbox_events_per_3000_char_message",
            )
        }
        chats = []
        for number in range(max(workload.sessions, 2)):
            auth = self._session(s["session_create"])
            chats.append((auth, self._start(s["conversation_start_with_message"], auth, number)))
        self.log(f"dynamodb: {len(chats)} sessions and conversations")

        (auth, conversation_id), (long_auth, long_conversation_id) = chats[:2]
        short_ids = [
            self._post(
                s["visitor_message"], auth, conversation_id, f"m-{n}", SHORT_TEXT.format(n=n)
            )
            for n in range(workload.messages)
        ]
        long_ids = [
            self._post(
                s["visitor_message_3000_chars"],
                long_auth,
                long_conversation_id,
                f"long-{n}",
                f"{n} {LONG_TEXT}"[:3_000],
            )
            for n in range(workload.long_messages)
        ]
        self.log(f"dynamodb: {len(short_ids)} + {len(long_ids)} messages")

        poll = {"conversation_id": conversation_id}
        for _ in range(workload.polls):
            s["poll_no_new_messages"](
                lambda: self.widget.call(
                    "widget_list_messages",
                    path_params=poll,
                    headers=auth,
                    query={"after": short_ids[-1]},
                ),
                200,
            )
        self._consume(s["inbox_events_per_message"], conversation_id, short_ids)
        if long_ids:
            self._consume(s["inbox_events_per_3000_char_message"], long_conversation_id, long_ids)
        self.log(f"dynamodb: {workload.polls} polls, stream consumer")
        return {name: scenario.summary() for name, scenario in s.items() if scenario.count}
