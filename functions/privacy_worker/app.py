"""Privacy worker: PrivacyJobsQueue → one task page after another (yoosr.privacy.worker).

Each message names a task by ids. The worker runs pages while the time left allows (keeping a
safety margin), checkpoints after every page, and re-enqueues the task before the deadline,
so a subject with 100,000 messages finishes across several invocations with bounded memory.
A failing message is reported in batchItemFailures (BatchProcessor): it is retried after the
visibility timeout and, after three receives, lands in PrivacyJobsDLQ.
"""

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
from yoosr.privacy.handlers import Resources
from yoosr.privacy.tasks import TaskMessage
from yoosr.settings import PrivacyWorkerSettings, get_settings
from yoosr.store.secrets import get_secret

settings = get_settings(PrivacyWorkerSettings)
# A failed record is reported, not raised, even when it is the whole batch (batch size 1):
# SQS redelivers it after the visibility timeout either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
resources = Resources(
    workspaces_table=settings.workspaces_table,
    conversations_table=settings.conversations_table,
    visitors_table=settings.visitors_table,
    ephemeral_table=settings.ephemeral_table,
    requests_table=settings.privacy_requests_table,
    exports_bucket=settings.privacy_exports_bucket,
    subject_key=lambda: get_secret(
        settings.subject_hash_key_secret, settings.secret_max_age_seconds
    ),
    page_size=settings.page_size,
    spool_dir=settings.spool_dir,
)
context_holder: dict[str, Any] = {}


def run_task(record: SQSRecord) -> None:
    message = TaskMessage.model_validate_json(record.body)
    context = context_holder["context"]
    outcome = worker.run(
        resources,
        settings.privacy_jobs_queue_url,
        message,
        lambda: int(context.get_remaining_time_in_millis()),
        clock.now,
    )
    logger.info(
        "privacy task",
        extra={
            "request_id": message.request_id,
            "task_id": message.task_id,
            "outcome": outcome,
        },
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    context_holder["context"] = context
    return process_partial_response(
        event=event, record_handler=run_task, processor=processor, context=context
    )
