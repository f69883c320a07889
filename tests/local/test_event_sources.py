"""Stream and queue event sources against the fixture consumers, and the CLI helpers."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.pollers import drain
from local.stack import Stack
from local.streams import StreamPoller, StreamReader
from local.workers import Invocation
from tests.local.conftest import client, wait_for

REPO = Path(__file__).resolve().parents[2]


def deliveries(stack: Stack, key: str) -> list[dict[str, Any]]:
    """Records the fixture consumers were given for one item, in delivery order."""
    items = client(stack, "dynamodb").query(
        TableName="fixture-calls",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": key}},
    )["Items"]
    return [json.loads(item["record"]["S"]) for item in items]


def take_messages(stack: Stack, queue: str) -> list[dict[str, Any]]:
    """Receive and delete everything visible in a queue."""
    sqs = client(stack, "sqs")
    url = stack.resources.ref(queue)
    bodies: list[dict[str, Any]] = []
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def put_events(stack: Stack, *items: dict[str, str]) -> None:
    requests = [
        {"PutRequest": {"Item": {k: {"S": v} for k, v in {"sk": "v1", **item}.items()}}}
        for item in items
    ]
    client(stack, "dynamodb").batch_write_item(RequestItems={"fixture-EventsTable": requests})


@pytest.fixture(autouse=True)
def _clean_dlqs(fixture_stack: Stack) -> None:
    assert fixture_stack.drain(30)
    take_messages(fixture_stack, "StreamFailuresDLQ")


def test_stream_records_are_lambda_shaped_and_filtered(fixture_stack: Stack) -> None:
    # Given an order and a note inserted, then the order modified
    put_events(fixture_stack, {"pk": "shape-1", "kind": "order"}, {"pk": "note-1", "kind": "note"})
    client(fixture_stack, "dynamodb").update_item(
        TableName="fixture-EventsTable",
        Key={"pk": {"S": "shape-1"}, "sk": {"S": "v1"}},
        UpdateExpression="SET #m = :m",
        ExpressionAttributeNames={"#m": "mode"},
        ExpressionAttributeValues={":m": {"S": "ok"}},
    )
    # When the consumers catch up
    assert fixture_stack.drain(30)
    # Then only the INSERT of the order passed the filter
    assert deliveries(fixture_stack, "stream#note-1") == []
    (record,) = deliveries(fixture_stack, "stream#shape-1")
    assert record["eventName"] == "INSERT"
    assert {k: record[k] for k in ("eventVersion", "eventSource", "awsRegion")} == {
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
    }
    assert record["eventSourceARN"] == fixture_stack.resources.get_att("EventsTable", "StreamArn")
    assert record["eventID"]
    change = record["dynamodb"]
    assert set(change) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert change["Keys"] == {"pk": {"S": "shape-1"}, "sk": {"S": "v1"}}
    assert change["NewImage"]["kind"] == {"S": "order"}
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert take_messages(fixture_stack, "StreamFailuresDLQ") == []


def test_partial_batch_failure_is_retried_from_the_failed_record(fixture_stack: Stack) -> None:
    put_events(
        fixture_stack,
        {"pk": "retry-a", "kind": "order"},
        {"pk": "retry-b", "kind": "order", "mode": "fail-once"},
        {"pk": "retry-c", "kind": "order"},
    )
    assert fixture_stack.drain(30)
    assert len(deliveries(fixture_stack, "stream#retry-a")) == 1
    assert len(deliveries(fixture_stack, "stream#retry-b")) == 2
    # c came after b: if they shared a batch, c was retried with b.
    assert len(deliveries(fixture_stack, "stream#retry-c")) in (1, 2)
    assert take_messages(fixture_stack, "StreamFailuresDLQ") == []


def test_record_that_always_fails_goes_to_the_on_failure_destination(
    fixture_stack: Stack,
) -> None:
    put_events(fixture_stack, {"pk": "doomed", "kind": "order", "mode": "always-fail"})
    assert fixture_stack.drain(30)
    attempts = deliveries(fixture_stack, "stream#doomed")
    assert len(attempts) == 3, "first attempt + MaximumRetryAttempts 2"
    (failure,) = take_messages(fixture_stack, "StreamFailuresDLQ")
    sequence = attempts[0]["dynamodb"]["SequenceNumber"]
    assert failure["version"] == "1.0"
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(
        ":function:fixture-StreamConsumerFunction"
    )
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequence, sequence)
    assert info["batchSize"] == 1
    assert info["streamArn"] == fixture_stack.resources.get_att("EventsTable", "StreamArn")
    assert info["shardId"].startswith("shardId-")
    assert failure["timestamp"].endswith("Z")


def test_function_error_bisects_and_only_the_bad_record_fails(fixture_stack: Stack) -> None:
    put_events(
        fixture_stack,
        {"pk": "bisect-ok", "kind": "order"},
        {"pk": "bisect-bad", "kind": "order", "mode": "raise"},
    )
    assert fixture_stack.drain(30)
    bad = deliveries(fixture_stack, "stream#bisect-bad")
    # Alone it is tried 1 + 2 times; if it came with the good record, once more before the split.
    assert len(bad) in (3, 4)
    assert len(deliveries(fixture_stack, "stream#bisect-ok")) in (1, 2)
    (failure,) = take_messages(fixture_stack, "StreamFailuresDLQ")
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == bad[0]["dynamodb"]["SequenceNumber"]


def test_cancelled_transaction_leaves_no_stream_records(fixture_stack: Stack) -> None:
    # Given a transaction whose condition check fails after a Put
    dynamodb = client(fixture_stack, "dynamodb")
    put_events(fixture_stack, {"pk": "tx-guard", "kind": "note"})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "fixture-EventsTable",
                        "Item": {
                            "pk": {"S": "tx-phantom"},
                            "sk": {"S": "v1"},
                            "kind": {"S": "order"},
                        },
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "fixture-EventsTable",
                        "Key": {"pk": {"S": "tx-guard"}, "sk": {"S": "v1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    # When a later write happens
    put_events(fixture_stack, {"pk": "after-cancel", "kind": "order"})
    assert fixture_stack.drain(30)
    # Then the cancelled Put never reached the consumer, and the later write did
    assert deliveries(fixture_stack, "stream#tx-phantom") == []
    assert len(deliveries(fixture_stack, "stream#after-cancel")) == 1


def test_latest_starting_position_skips_what_was_there(fixture_stack: Stack) -> None:
    (source,) = fixture_stack.template.stream_sources
    seen: list[str] = []

    def invoke(function: str, event: Any) -> Invocation:
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return Invocation("ok", "req", result=None)

    put_events(fixture_stack, {"pk": "before-latest", "kind": "note"})
    stop = threading.Event()
    poller = StreamPoller(
        dataclasses.replace(source, starting_position="LATEST", filters=()),
        stream_arn=fixture_stack.resources.get_att("EventsTable", "StreamArn"),
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
        streams_client=client(fixture_stack, "dynamodbstreams"),
        invoke=invoke,
        send_failure=lambda *args: None,
        stop=stop,
        region="us-east-1",
    )
    poller.start()
    try:
        put_events(fixture_stack, {"pk": "after-latest", "kind": "note"})
        assert drain([poller], 15)
    finally:
        stop.set()
        poller.join(5)
    assert seen == ["after-latest"]


class _CountingStreams:
    """A streams client that counts GetRecords calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.get_records_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_records(self, **kwargs: Any) -> Any:
        self.get_records_calls += 1
        return self._inner.get_records(**kwargs)


class _NoStreams:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a consumer with a shared reader called {name}")


def test_consumers_of_one_stream_share_one_reader(fixture_stack: Stack) -> None:
    (source,) = fixture_stack.template.stream_sources
    stream_arn = fixture_stack.resources.get_att("EventsTable", "StreamArn")
    streams = _CountingStreams(client(fixture_stack, "dynamodbstreams"))
    stop = threading.Event()
    reader = StreamReader(
        stream_arn=stream_arn,
        streams_client=streams,
        stop=stop,
        region="us-east-1",
        starting_position="LATEST",
    )
    seen: dict[str, list[str]] = {"orders": [], "everything": []}
    failed_once: set[str] = set()

    def consumer(name: str, filters: tuple[dict[str, Any], ...]) -> StreamPoller:
        def invoke(function: str, event: Any) -> Invocation:
            keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
            seen[name].extend(keys)
            if name == "everything" and "shared-2" in keys and "shared-2" not in failed_once:
                # One consumer's failure is retried for it alone.
                failed_once.add("shared-2")
                return Invocation("error", "req", result=None, error={"errorType": "Boom"})
            return Invocation("ok", "req", result=None)

        return StreamPoller(
            dataclasses.replace(
                source, starting_position="LATEST", filters=filters, maximum_retry_attempts=3
            ),
            stream_arn=stream_arn,
            function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            streams_client=_NoStreams(),
            invoke=invoke,
            send_failure=lambda *args: None,
            stop=stop,
            region="us-east-1",
            retry_delay_s=0.01,
            reader=reader,
        )

    orders = consumer("orders", ({"dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}},))
    everything = consumer("everything", ())
    put_events(fixture_stack, {"pk": "before-shared", "kind": "order"})
    reader.start()
    orders.start()
    everything.start()
    try:
        put_events(
            fixture_stack,
            {"pk": "shared-1", "kind": "order"},
            {"pk": "shared-2", "kind": "note"},
            {"pk": "shared-3", "kind": "order"},
        )
        assert drain([reader, orders, everything], 15)
        reads = streams.get_records_calls
        time.sleep(1.0)  # idle: only the reader polls moto
        idle_reads = streams.get_records_calls - reads
    finally:
        stop.set()
        for poller in (reader, orders, everything):
            poller.join(5)
    assert seen["orders"] == ["shared-1", "shared-3"]
    # everything: the batch up to the failed record again, then the rest; nothing before LATEST
    assert sorted(set(seen["everything"])) == ["shared-1", "shared-2", "shared-3"]
    assert seen["everything"][-1] == "shared-3" and seen["everything"].count("shared-2") == 2
    assert 1 <= idle_reads <= 6, "one reader polls every 0.25 s when idle"


def test_sqs_partial_failure_is_redelivered_then_dead_lettered(fixture_stack: Stack) -> None:
    sqs = client(fixture_stack, "sqs")
    url = fixture_stack.resources.ref("JobsQueue")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": "ok",
                "MessageBody": json.dumps({"id": "job-ok"}),
                "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "test"}},
            },
            {"Id": "bad", "MessageBody": json.dumps({"id": "job-bad", "fail": True})},
        ],
    )
    # The failed message returns after the 1 s visibility timeout; after maxReceiveCount 2,
    # moto's redrive moves it to the DLQ on the next receive.
    dead = wait_for(lambda: take_messages(fixture_stack, "JobsDLQ"), timeout_s=20)
    assert [body["id"] for body in dead] == ["job-bad"]
    assert fixture_stack.drain(30)

    (ok,) = deliveries(fixture_stack, "sqs#job-ok")
    bad = deliveries(fixture_stack, "sqs#job-bad")
    assert sorted(r["attributes"]["ApproximateReceiveCount"] for r in bad) == ["1", "2"]
    assert set(ok) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert ok["eventSource"] == "aws:sqs"
    assert ok["eventSourceARN"] == fixture_stack.resources.get_att("JobsQueue", "Arn")
    assert ok["messageAttributes"] == {
        "origin": {
            "stringValue": "test",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        ok["attributes"]
    )
    # The success was deleted: nothing is left in the queue.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_error_without_partial_responses_returns_the_whole_batch(
    fixture_stack: Stack,
) -> None:
    sqs = client(fixture_stack, "sqs")
    url = fixture_stack.resources.ref("PlainQueue")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "skip", "MessageBody": json.dumps({"id": "plain-skip", "wanted": False})},
            {"Id": "ok", "MessageBody": json.dumps({"id": "plain-ok", "wanted": True})},
            {
                "Id": "bad",
                "MessageBody": json.dumps({"id": "plain-bad", "wanted": True, "fail": True}),
            },
        ],
    )
    try:
        # The good message is redelivered with the bad one: the invocation as a whole failed.
        wait_for(lambda: len(deliveries(fixture_stack, "sqs#plain-ok")) >= 2, timeout_s=20)
    finally:
        sqs.purge_queue(QueueUrl=url)
    assert deliveries(fixture_stack, "sqs#plain-skip") == []


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YOOSR_LOCAL_DIR": str(stack.config.local_dir)}
    return subprocess.run(
        [sys.executable, "-m", "local", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_fires_a_schedule_and_drains(fixture_stack: Stack) -> None:
    fired = _cli(fixture_stack, "fire", "ScheduledFunction", "Cleanup")
    assert fired.returncode == 0, fired.stderr
    assert json.loads(fired.stdout)["result"]["received"] == {"job": "cleanup"}
    missing = _cli(fixture_stack, "fire", "ScheduledFunction", "Nope")
    assert missing.returncode == 1
    drained = _cli(fixture_stack, "drain", "--timeout", "20")
    assert (drained.returncode, json.loads(drained.stdout)) == (0, {"drained": True})


def test_moto_serves_one_request_at_a_time(fixture_stack: Stack) -> None:
    # Unlocked, moto copies a table for a transaction while another request changes it, and
    # fails with a 500 ("dictionary changed size during iteration"). Retries off: see every one.
    dynamodb = client(fixture_stack, "dynamodb", Config(retries={"max_attempts": 1}))
    for start in range(0, 200, 25):
        dynamodb.batch_write_item(
            RequestItems={
                "fixture-calls": [
                    {"PutRequest": {"Item": {"pk": {"S": f"bulk-{n}"}, "sk": {"S": "-"}}}}
                    for n in range(start, start + 25)
                ]
            }
        )
    errors: list[str] = []

    def transact(worker: int) -> None:
        for n in range(10):
            item = {"pk": {"S": f"tx-{worker}-{n}"}, "sk": {"S": "-"}}
            try:
                dynamodb.transact_write_items(
                    TransactItems=[{"Put": {"TableName": "fixture-calls", "Item": item}}]
                )
            except ClientError as error:
                errors.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=transact, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_a_long_poll_does_not_hold_up_other_requests(fixture_stack: Stack) -> None:
    sqs = client(fixture_stack, "sqs")
    url = fixture_stack.resources.ref("StreamFailuresDLQ")
    poll = threading.Thread(
        target=lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3), daemon=True
    )
    poll.start()
    time.sleep(0.3)
    started = time.monotonic()
    client(fixture_stack, "dynamodb").describe_table(TableName="fixture-calls")
    assert time.monotonic() - started < 1.5
    poll.join(10)
