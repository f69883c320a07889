"""Agent routing events: the Conversations stream → automatic assignment.

Selected by the event source's filters: queue entry inserts (a handoff, transfer or give-back
→ dispatch that queue, then tell a still-waiting visitor when to expect an answer) and
human-owned, open, unassigned conversations (queued here if no writer queued them). A handoff
written by any function therefore reaches routing with no dual write: the queue entry is part
of the handoff's own transaction, and the stream delivers it at least once.

Idempotent per record (conditional writes, a notice marker), and one bad record never fails
its batch: Powertools BatchProcessor reports it in batchItemFailures; Lambda retries it, then
sends it to the on-failure destination.
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

from yoosr.observability import logger, metrics, tracer
from yoosr.routing import events
from yoosr.routing.dispatcher import tables_of
from yoosr.settings import AgentRoutingEventsSettings, get_settings

settings = get_settings(AgentRoutingEventsSettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# Queues already dispatched in the current batch (reset per invocation).
dispatched: set[tuple[str, str]] = set()


def route(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    outcome = events.handle(tables_of(settings), image, dispatched)
    logger.debug("routing event", extra={"outcome": outcome})


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    dispatched.clear()
    return process_partial_response(
        event=event, record_handler=route, processor=processor, context=context
    )
