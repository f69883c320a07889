"""Bot reply: the Conversations stream → the bot's turn in conversations it owns.

Selected by the event source's filters: visitor message inserts, and inserts of bot-owned
conversations started without a message (the flow greets). See yoosr.bot.reply for the turn.

A burst: the handler first waits until the newest message of the batch is `burst_seconds`
old (at most that long, once per batch), so messages a visitor sends in quick succession are
stored before the bot reads them and get one reply; the records of messages an earlier turn
answered cost nothing (the per-invocation cursor) or one read (the stored cursor).

Idempotent per record (the turn's write is conditional on the bot's turn counter), and one
bad record never fails its batch: BatchProcessor reports it in batchItemFailures; Lambda
retries it, then sends it to the on-failure destination.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)

from yoosr import clock
from yoosr.bot import reply
from yoosr.observability import logger, metrics, tracer
from yoosr.settings import BotReplyEventsSettings, get_settings

settings = get_settings(BotReplyEventsSettings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
ai = reply.openrouter_port(settings)
# Newest visitor message answered per conversation in the current invocation.
answered: dict[tuple[str, str], str] = {}


def take_turn(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    trigger = reply.trigger_from_image(image)
    if trigger is None:
        return
    key = (trigger.workspace_id, trigger.conversation_id)
    if trigger.message_id is not None and trigger.message_id <= answered.get(key, ""):
        return
    outcome = reply.take_turn(settings, trigger, ai)
    if trigger.message_id is not None and outcome not in ("discarded",):
        answered[key] = max(answered.get(key, ""), trigger.message_id)
    logger.debug("bot event", extra={"outcome": outcome})


def burst_wait(event: dict[str, Any], remaining_ms: int) -> float:
    """Seconds until the batch's newest visitor message is `burst_seconds` old."""
    newest: float | None = None
    for record in event.get("Records", []):
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        created = (image.get("created_at") or {}).get("S")
        if created:
            try:
                stamp = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            newest = stamp if newest is None else max(newest, stamp)
    if newest is None:
        return 0.0
    wait = settings.burst_seconds - (clock.epoch_float() - newest)
    # Never eat into the time the turns need.
    return max(0.0, min(wait, settings.burst_seconds, remaining_ms / 1000 / 4))


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answered.clear()
    wait = burst_wait(event, int(context.get_remaining_time_in_millis()))
    if wait > 0:
        time.sleep(wait)
    return process_partial_response(
        event=event, record_handler=take_turn, processor=processor, context=context
    )
