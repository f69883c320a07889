"""The stream consumer: visitor messages raise the unread count exactly once, and a bad record
is reported in batchItemFailures without failing its batch."""

from __future__ import annotations

import copy
from typing import Any

import boto3

from tests.integration.widget_support import Visitor, conversation_item, stored_messages
from tests.support import LambdaContext, sample_event
from yoosr.store import ddb


def record_for(message: dict[str, Any], sequence: str) -> dict[str, Any]:
    record = copy.deepcopy(sample_event("inbox_events_visitor_message")["Records"][0])
    record["dynamodb"]["Keys"] = ddb.to_av({"pk": message["pk"], "sk": message["sk"]})
    record["dynamodb"]["NewImage"] = ddb.to_av(message)
    record["dynamodb"]["SequenceNumber"] = sequence
    return record


def test_sample_event_is_accepted(inbox_events: Any) -> None:
    # The sample names a conversation that does not exist: nothing to count, no failure.
    result = inbox_events.lambda_handler(
        sample_event("inbox_events_visitor_message"), LambdaContext()
    )
    assert result == {"batchItemFailures": []}


def test_unread_counts_once_under_redelivery(
    stack: Any, inbox_events: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation("one")
    visitor.post(conversation_id, "two")
    messages = stored_messages(stack, workspace["id"], conversation_id)
    event = {"Records": [record_for(m, str(100 + i)) for i, m in enumerate(messages)]}
    # When the same batch is delivered twice (at-least-once)
    for _ in range(2):
        result = inbox_events.lambda_handler(copy.deepcopy(event), LambdaContext())
        assert result == {"batchItemFailures": []}
    # Then each message counted exactly once
    assert conversation_item(stack, workspace["id"], conversation_id)["unread_by_agents"] == 2


def test_bad_record_is_reported_not_thrown(
    stack: Any, inbox_events: Any, visitor: Visitor, workspace: dict
) -> None:
    conversation_id = visitor.start_conversation("fine")
    good = record_for(stored_messages(stack, workspace["id"], conversation_id)[0], "200")
    bad = copy.deepcopy(good)
    bad["dynamodb"]["SequenceNumber"] = "201"
    del bad["dynamodb"]["NewImage"]["workspace_id"]
    result = inbox_events.lambda_handler({"Records": [good, bad]}, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "201"}]}
    assert conversation_item(stack, workspace["id"], conversation_id)["unread_by_agents"] == 1


def test_stream_carries_accepted_messages(stack: Any, visitor: Visitor, workspace: dict) -> None:
    """The no-dual-write path: an accepted message is on the table's stream as an INSERT whose
    image passes the template's filter for this consumer."""
    conversation_id = visitor.start_conversation(None)
    posted = visitor.post(conversation_id, "on the stream").json["id"]
    streams = boto3.client("dynamodbstreams")
    arn = stack.resources.get_att("ConversationsTable", "StreamArn")
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    found = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            image = record["dynamodb"].get("NewImage", {})
            if (
                record["eventName"] == "INSERT"
                and image.get("item_type") == {"S": "message"}
                and image.get("message_id", {}).get("S") == posted
            ):
                found.append(image)
    assert len(found) == 1
    assert found[0]["item_type"] == {"S": "message"}
    assert found[0]["sender_type"] == {"S": "visitor"}
