"""Inbox events: keeps each conversation's unread-by-agents count from the Conversations
stream (visitor message inserts only, selected by the event source's filter).

Idempotent per message, and one bad record never fails its batch: Powertools BatchProcessor
reports it in batchItemFailures and Lambda retries from there, then sends it on to the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)

from yoosr.events import visitor_message_from_image
from yoosr.observability import logger, metrics, tracer
from yoosr.settings import InboxEventsSettings, get_settings
from yoosr.store import conversations

settings = get_settings(InboxEventsSettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def count_unread(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    message = visitor_message_from_image(image)
    if message is None:  # not a visitor message: nothing to count (filter should stop these)
        return
    counted = conversations.count_unread(
        settings.conversations_table,
        message.workspace_id,
        message.conversation_id,
        message.message_id,
    )
    logger.debug(
        "unread counted" if counted else "already counted",
        extra={"conversation_id": message.conversation_id},
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=count_unread, processor=processor, context=context
    )
