"""Privacy failures: PrivacyJobsDLQ → the request of a task that failed three times is marked
`failed` (never `completed`); an admin may retry it (finished tasks are kept)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from yoosr import clock
from yoosr.observability import logger, metrics, tracer
from yoosr.privacy import worker
from yoosr.privacy.tasks import TaskMessage
from yoosr.settings import PrivacyFailuresSettings, get_settings

settings = get_settings(PrivacyFailuresSettings)
# A failed record is reported, not raised, even when it is the whole batch (batch size 1):
# SQS redelivers it after the visibility timeout either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def mark_failed(record: SQSRecord) -> None:
    message = TaskMessage.model_validate_json(record.body)
    outcome = worker.fail(settings.privacy_requests_table, message, clock.now())
    logger.info(
        "privacy dead letter",
        extra={"request_id": message.request_id, "task_id": message.task_id, "outcome": outcome},
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=mark_failed, processor=processor, context=context
    )
