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


class _Cursor:
    """Reads one stream from a starting position onward, one shard position each."""

    def __init__(self, stream_arn: str, streams_client: Any, region: str) -> None:
        self.stream_arn = stream_arn
        self._client = streams_client
        self._region = region
        self.shards: dict[str, _Shard] = {}

    def open(self, starting_position: str) -> list[str]:
        """Fix the start position now (not in a thread): LATEST means "after what exists when
        the stack starts". moto keeps one shard per stream that never splits."""
        description = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            state = _Shard(shard["ShardId"])
            if starting_position == "LATEST":
                # Read past what is there (bounded) to learn where "now" is.
                for _ in range(1000):
                    if not self._read(state, 1000):
                        break
            self.shards[state.shard_id] = state
        return list(self.shards)

    def fetch(self, shard_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The records after the last one read, shaped as Lambda delivers them."""
        return [
            lambda_stream_record(r, self.stream_arn, self._region)
            for r in self._read(self.shards[shard_id], limit)
        ]

    def _read(self, shard: _Shard, limit: int) -> list[dict[str, Any]]:
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
        raw: list[dict[str, Any]] = self._client.get_records(
            ShardIterator=iterator, Limit=limit
        ).get("Records", [])
        if raw:
            shard.after = str(raw[-1]["dynamodb"]["SequenceNumber"])
        return raw


class StreamReader(Poller):
    """Reads one stream once for every function that consumes it from the same position.

    DynamoDB Streams serves every event source mapping the same records and Lambda polls for
    each mapping on its own. Locally that would make moto, one CPU-bound process, answer the
    same GetShardIterator + GetRecords once per consumer every cycle, idle or not (four
    consumers read the Conversations stream). One reader fetches and hands each consumer its
    own queue of the records; each consumer keeps its own filters, batching window, retries,
    bisecting and on-failure destination, so what a function receives does not change.

    Consumers subscribe before the reader starts; `drain` must see the reader with them (a
    record is caught up once the reader has handed it over and every consumer is idle).
    """

    def __init__(
        self,
        *,
        stream_arn: str,
        streams_client: Any,
        stop: threading.Event,
        region: str,
        starting_position: str,
    ) -> None:
        # arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL
        parts = stream_arn.split("/")
        super().__init__(f"stream-reader:{parts[1] if len(parts) > 1 else stream_arn}", stop)
        self._cursor = _Cursor(stream_arn, streams_client, region)
        self._starting_position = starting_position
        self._consumers: list[StreamPoller] = []

    def subscribe(self, consumer: StreamPoller) -> None:
        if self._cursor.shards:
            raise RuntimeError("subscribe every consumer before the reader starts")
        self._consumers.append(consumer)

    def start(self) -> None:
        self._cursor.open(self._starting_position)
        super().start()

    def shard_ids(self) -> list[str]:
        return list(self._cursor.shards)

    def poll_once(self) -> bool:
        busy = False
        for shard_id in list(self._cursor.shards):
            records = self._cursor.fetch(shard_id)
            if records:
                busy = True
                for consumer in self._consumers:
                    consumer.hand_over(shard_id, records)
        return busy


class StreamPoller(Poller):
    """Delivers one table's stream to one function, as a DynamoDB event source mapping does.

    It reads the stream itself, or takes what a shared `StreamReader` hands over.
    """

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
        reader: StreamReader | None = None,
    ) -> None:
        super().__init__(f"stream:{source.function}.{source.event_name}", stop)
        self.source = source
        self.stream_arn = stream_arn
        self.function_arn = function_arn
        self._invoke = invoke
        self._send_failure = send_failure
        self._retry_delay_s = retry_delay_s
        self._reader = reader
        self._cursor = None if reader else _Cursor(stream_arn, streams_client, region)
        self._shard_ids: list[str] = []
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._handed_over: dict[str, list[dict[str, Any]]] = {}
        self._handed_lock = threading.Lock()
        if reader is not None:
            reader.subscribe(self)

    def start(self) -> None:
        if self._reader is not None:
            self._shard_ids = self._reader.shard_ids()  # the reader starts first
        elif self._cursor is not None:
            self._shard_ids = self._cursor.open(self.source.starting_position)
        self._buffers = {shard_id: [] for shard_id in self._shard_ids}
        super().start()

    def hand_over(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Queue records a shared reader fetched (called on the reader's thread)."""
        with self._handed_lock:
            self._handed_over.setdefault(shard_id, []).extend(records)
        self.wake()

    def poll_once(self) -> bool:
        busy = False
        for shard_id in self._shard_ids:
            busy |= self._poll_shard(shard_id)
        return busy

    def _fetch(self, shard_id: str) -> list[dict[str, Any]]:
        if self._cursor is not None:
            return self._cursor.fetch(shard_id)
        with self._handed_lock:
            return self._handed_over.pop(shard_id, [])

    def _poll_shard(self, shard_id: str) -> bool:
        source = self.source
        buffer = self._buffers[shard_id]
        fetched = self._fetch(shard_id)
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
            more = self._fetch(shard_id)
            buffer.extend(r for r in more if matches_any(source.filters, r))
        while buffer and not self._stop.is_set():
            batch = buffer[: source.batch_size]
            # Records leave the buffer only once delivered (or sent on failure): if moto is
            # unreachable mid-way, the next cycle starts this batch again.
            self._deliver(shard_id, batch, attempts=0)
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
