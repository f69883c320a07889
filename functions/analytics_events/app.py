"""Analytics events: the Conversations and PrivacyRequestsTable streams → rollups per workspace,
local day and hour.

Selected by the event sources' filters: inserts and changes of conversation items, inserts of
message items, and inserts of the privacy audit events that count (a request received,
completed, denied, cancelled, flagged overdue); yoosr.analytics.events says what each counts.
Every event lands once: its marker and its rollup ADDs share one transaction, so a redelivered
record or a replayed stream changes no figure. One bad record never fails its batch:
BatchProcessor reports it in batchItemFailures; Lambda retries it, then sends it to the
on-failure destination.
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

from yoosr.analytics import consumer
from yoosr.observability import count, logger, metrics, tracer
from yoosr.settings import AnalyticsEventsSettings, get_settings

settings = get_settings(AnalyticsEventsSettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def count_record(record: DynamoDBRecord) -> None:
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        return
    change = consumer.change_of(
        record.event_name.name,
        stream.old_image,
        stream.new_image,
        stream.approximate_creation_date_time,
    )
    counted = consumer.record(settings, change)
    if counted.events:
        count("AnalyticsEventsCounted", counted.events)
    if counted.skipped:
        count("AnalyticsEventsAlreadyCounted", counted.skipped)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=count_record, processor=processor, context=context
    )
