"""SQS event source: long-poll, invoke with Lambda-shaped records, delete what succeeded."""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any

from local.filters import matches_any, sqs_filter_view
from local.pollers import Invoke, Poller
from local.template import SqsSource

log = logging.getLogger(__name__)

_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)  # fmt: skip


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if binary is not None:
        out["binaryValue"] = base64.b64encode(binary).decode("ascii")
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [
        base64.b64encode(v).decode("ascii") for v in value.get("BinaryListValues", [])
    ]
    out["dataType"] = value.get("DataType", "String")
    return out


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message reshaped the way Lambda delivers it."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: str(attributes[k]) for k in _SYSTEM_ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


class QueuePoller(Poller):
    """Polls one queue for one function, as an SQS event source mapping does."""

    idle_sleep_s = 0.2

    def __init__(
        self,
        source: SqsSource,
        *,
        queue_url: str,
        queue_arn: str,
        sqs_client: Any,
        invoke: Invoke,
        stop: threading.Event,
        region: str,
        wait_time_s: int = 0,
    ) -> None:
        super().__init__(f"sqs:{source.function}.{source.event_name}", stop)
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._client = sqs_client
        self._invoke = invoke
        self._region = region
        # Lambda long-polls (20 s). Locally a short poll every 0.2 s behaves the same for the
        # function and lets `drain` prove a queue empty without waiting out a long poll.
        self._wait_time_s = wait_time_s

    def _receive(self, limit: int, wait_s: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(limit, 10)),
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def poll_once(self) -> bool:
        source = self.source
        messages = self._receive(source.batch_size, self._wait_time_s)
        if not messages:
            return False
        window_ends = time.monotonic() + source.maximum_batching_window_s
        # Within the batching window, gather up to BatchSize messages before invoking.
        while len(messages) < source.batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(source.batch_size - len(messages), 0)
            messages.extend(more)
            if not more:
                self._stop.wait(min(0.2, remaining))
        records = [lambda_sqs_record(m, self.queue_arn, self._region) for m in messages]
        kept = [r for r in records if matches_any(source.filters, sqs_filter_view(r))]
        dropped = [r for r in records if r not in kept]
        # Lambda deletes messages its filters drop.
        self._delete(dropped)
        if kept:
            self._deliver(kept)
        return True

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        invocation = self._invoke(self.source.function, {"Records": records})
        if not invocation.ok:
            # The whole batch returns to the queue after its visibility timeout.
            return
        failed = self._failed_ids(records, invocation.result)
        self._delete([r for r in records if r["messageId"] not in failed])

    def _failed_ids(self, records: list[dict[str, Any]], result: Any) -> set[str]:
        if not self.source.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        ids = {r["messageId"] for r in records}
        failed: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in ids:
                # An unknown or empty identifier fails the whole batch, as in Lambda.
                return ids
            failed.add(str(identifier))
        return failed

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            response = self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                log.warning("%s: delete failed: %s", self.name, failure.get("Code"))
