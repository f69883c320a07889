"""DynamoDB stream event source: Lambda's poller, batching, retries, bisecting and on-failure."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.filters import matches_any
from local.pollers import Invoke, Poller
from local.template import StreamSource
from local.workers import Invocation

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 2.0


@dataclass
class _Shard:
    shard_id: str
    after: str | None = None
    """Sequence number of the last record read; None before the first."""


def _attribute_value(value: Any) -> Any:
    """boto3 parsed binary values into bytes; Lambda events carry them as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _attribute_value(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_attribute_value(v) for v in value]
    return value


def _epoch_seconds(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(float(value))


def lambda_stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record reshaped the way Lambda delivers it."""
    change = raw.get("dynamodb", {})
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": _epoch_seconds(change["ApproximateCreationDateTime"]),
        "Keys": _attribute_value(change.get("Keys", {})),
    }
    for image in ("NewImage", "OldImage"):
        if image in change:
            dynamodb[image] = _attribute_value(change[image])
    dynamodb["SequenceNumber"] = str(change["SequenceNumber"])
    dynamodb["SizeBytes"] = int(change.get("SizeBytes", 0))
    dynamodb["StreamViewType"] = change.get("StreamViewType", "")
    record: dict[str, Any] = {
        "eventID": raw.get("eventID") or uuid.uuid4().hex,
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if raw.get("userIdentity"):
        record["userIdentity"] = raw["userIdentity"]
    return record


class StreamPoller(Poller):
    """Polls one table's stream for one function, as a DynamoDB event source mapping does."""

    def __init__(
        self,
        source: StreamSource,
        *,
        stream_arn: str,
        function_arn: str,
        streams_client: Any,
        invoke: Invoke,
        send_failure: Any,
        stop: threading.Event,
        region: str,
        retry_delay_s: float = 0.1,
    ) -> None:
        super().__init__(f"stream:{source.function}.{source.event_name}", stop)
        self.source = source
        self.stream_arn = stream_arn
        self.function_arn = function_arn
        self._client = streams_client
        self._invoke = invoke
        self._send_failure = send_failure
        self._region = region
        self._retry_delay_s = retry_delay_s
        self._shards: dict[str, _Shard] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}

    def start(self) -> None:
        # The start position is fixed now, not in the thread: LATEST means "after what exists
        # when the stack starts". moto keeps one shard per stream that never splits.
        description = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            state = _Shard(shard["ShardId"])
            if self.source.starting_position == "LATEST":
                # Read past what is there (bounded) to learn where "now" is.
                for _ in range(1000):
                    if not self._fetch(state, 1000):
                        break
            self._shards[state.shard_id] = state
            self._buffers[state.shard_id] = []
        super().start()

    def poll_once(self) -> bool:
        busy = False
        for shard in list(self._shards.values()):
            busy |= self._poll_shard(shard)
        return busy

    def _fetch(self, shard: _Shard, limit: int) -> list[dict[str, Any]]:
        # A fresh iterator per read rather than NextShardIterator: moto iterators hold on to a
        # shard object, which moto replaces when it rolls a table back (see moto_fixes.py);
        # a position by sequence number always reads the table's current shard.
        position: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.after}
            if shard.after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = self._client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard.shard_id, **position
        )["ShardIterator"]
        raw = self._client.get_records(ShardIterator=iterator, Limit=limit).get("Records", [])
        if raw:
            shard.after = str(raw[-1]["dynamodb"]["SequenceNumber"])
        return [lambda_stream_record(r, self.stream_arn, self._region) for r in raw]

    def _poll_shard(self, shard: _Shard) -> bool:
        source = self.source
        buffer = self._buffers[shard.shard_id]
        fetched = self._fetch(shard, 1000)
        if not fetched and not buffer:
            return False
        buffer.extend(r for r in fetched if matches_any(source.filters, r))
        window_ends = time.monotonic() + source.maximum_batching_window_s
        # Lambda waits up to the batching window for a full batch before invoking.
        while len(buffer) < source.batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            self._stop.wait(min(remaining, 0.2))
            more = self._fetch(shard, 1000)
            buffer.extend(r for r in more if matches_any(source.filters, r))
        while buffer and not self._stop.is_set():
            batch = buffer[: source.batch_size]
            # Records leave the buffer only once delivered (or sent on failure): if moto is
            # unreachable mid-way, the next cycle starts this batch again.
            self._deliver(shard.shard_id, batch, attempts=0)
            del buffer[: len(batch)]
        return True

    def _deliver(self, shard_id: str, batch: list[dict[str, Any]], attempts: int) -> None:
        """Invoke until the batch succeeds, is bisected, or has used its retries."""
        source = self.source
        while batch and not self._stop.is_set():
            invocation = self._invoke(source.function, {"Records": batch})
            if self._stop.is_set():
                return  # stopping: an aborted invocation is not the function's failure
            function_error = not invocation.ok
            if not function_error:
                failed_at = self._first_failure(batch, invocation)
                if failed_at is None:
                    return
                # Checkpoint before the lowest failed record; retry from there.
                batch = batch[failed_at:]
            retries_left = (
                source.maximum_retry_attempts < 0 or attempts < source.maximum_retry_attempts
            )
            if not retries_left:
                self._on_failure(shard_id, batch, invocation, attempts + 1, function_error)
                return
            if function_error and source.bisect_on_error and len(batch) > 1:
                # Splitting does not count against the retry quota, as in Lambda.
                half = len(batch) // 2
                self._deliver(shard_id, batch[:half], attempts)
                self._deliver(shard_id, batch[half:], attempts)
                return
            attempts += 1
            self._stop.wait(min(self._retry_delay_s * 2 ** (attempts - 1), MAX_RETRY_DELAY_S))

    def _first_failure(self, batch: list[dict[str, Any]], invocation: Invocation) -> int | None:
        """Index of the lowest failed record from a partial batch response, None if none."""
        if not self.source.report_batch_item_failures:
            return None
        result = invocation.result
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return None
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in positions:
                # Lambda treats an unknown or empty identifier as a failure of the whole batch.
                return 0
            indexes.append(positions[identifier])
        return min(indexes)

    def _on_failure(
        self,
        shard_id: str,
        batch: list[dict[str, Any]],
        invocation: Invocation,
        invoke_count: int,
        function_error: bool,
    ) -> None:
        log.warning(
            "%s: %d record(s) exhausted their retries",
            self.name,
            len(batch),
            extra={"shard": shard_id},
        )
        if self.source.on_failure_destination is None:
            return
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response_context["functionError"] = "Unhandled"
        record = {
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invoke_count,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso_ms(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_s(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso_s(last["ApproximateCreationDateTime"]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self._send_failure(self.source.on_failure_type, self.source.on_failure_destination, record)


def _iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _iso_s(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
