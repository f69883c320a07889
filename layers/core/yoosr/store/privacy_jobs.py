"""PrivacyJobsQueue: task messages (ids only: workspace, request, task; never personal data).

A message is delivered at least once; the worker makes every task idempotent. Messages that
fail three times move to PrivacyJobsDLQ, whose consumer marks their request failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from yoosr.privacy.tasks import TaskMessage
from yoosr.store import aws

BATCH = 10


def send(queue_url: str, messages: Sequence[TaskMessage]) -> None:
    client = aws.client("sqs")
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        response = client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(number), "MessageBody": message.model_dump_json()}
                for number, message in enumerate(chunk)
            ],
        )
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} job messages were not sent")
