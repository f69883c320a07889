"""From one Conversations stream record (or one privacy request event) to metric increments.

Pure: the caller passes the deserialised images, the record's approximate time and the
workspace's IANA time zone. Each increment lands on the local day and hour of the moment it
describes, taken from the item (created_at, handed_off_at, resolved_at …) so a replay or a
backfill counts it on the same day; the record's time is only the fallback.

Each increment carries a dedupe key built from what happened (conversation, cycle, message
id …) and the metric, never from the record's id: a redelivered record and a replayed stream
produce the same keys, so the writer applies each increment at most once.

Record kinds:
- conversation INSERT/MODIFY: start, first bot message, handoff, assignment, first reply of a
  cycle, agents who replied in a cycle, resolve, reopen, rating offered, rating given;
- message INSERT: messages by sender, public agent messages, the bot's AI usage (`ai` map);
- privacy audit INSERT (PrivacyRequestsTable stream): a request received, completed (on time
  or not), denied, cancelled or flagged overdue (`privacy_event`, `privacy_increments`);
- everything else (notes, CSAT items, markers, queue entries, REMOVEs) counts nothing: an
  erased conversation leaves its rollups as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Literal

from yoosr.analytics import inputs, series
from yoosr.analytics.series import NONE, Dimensions, Metric
from yoosr.models.routing import ConversationState

EventName = Literal["INSERT", "MODIFY", "REMOVE"]
_At = Callable[[Any], datetime]


@dataclass(frozen=True)
class StreamChange:
    """One stream record: images already deserialised (numbers may be Decimal)."""

    event_name: EventName
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    approximate_time: datetime


PrivacyKind = Literal["received", "completed", "denied", "cancelled", "overdue"]


@dataclass(frozen=True)
class PrivacyRequestEvent:
    """Something that happened to a privacy request, read from its audit event (the
    PrivacyRequestsTable stream, `privacy_event`): received, completed, denied, cancelled
    (or lapsed unverified), flagged overdue. Ids, a type and times only."""

    workspace_id: str
    request_id: str
    request_type: str  # access | export | delete | correct | restrict …
    kind: PrivacyKind
    at: datetime
    # The deadline in force when it completed (after any extension); None: no deadline.
    due_at: datetime | None = None


@dataclass(frozen=True)
class Increment:
    """Add `amount` to a counter, or one `observation` to a histogram, in the workspace's
    rollups for local `day` (YYYY-MM-DD) and `hour` (0–23)."""

    workspace_id: str
    metric: str
    dimensions: Dimensions
    day: str
    hour: int
    dedupe_key: str
    amount: int = 1
    observation: float | None = None

    @cached_property
    def series(self) -> str:
        return series.series_key(self.metric, self.dimensions)

    @property
    def event_key(self) -> str:
        """The dedupe key without its metric: what happened. One record produces all of an
        event's increments together, so one marker per event keeps each of them once."""
        return self.dedupe_key.rpartition("#")[0]


def local_period(moment: datetime, timezone: str) -> tuple[str, int]:
    """The local day and hour of a moment in the workspace's time zone."""
    local = _aware(moment).astimezone(series.zone(timezone))
    return local.date().isoformat(), local.hour


# ---------------------------------------------------------------- helpers


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, InvalidOperation):
        return 0


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _nano_usd(value: Any) -> int:
    try:
        cost = Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return 0
    if not cost.is_finite() or cost < 0:
        return 0
    return int((cost * series.NANO_USD_PER_USD).to_integral_value())


class _Emitter:
    def __init__(self, workspace_id: str, scope: str, timezone: str) -> None:
        self.workspace_id = workspace_id
        self.scope = scope
        self.timezone = timezone
        self.increments: list[Increment] = []

    def _add(
        self,
        metric: Metric,
        at: datetime,
        event: str,
        amount: int,
        observation: float | None,
        dims: dict[str, str | None],
    ) -> None:
        day, hour = local_period(at, self.timezone)
        self.increments.append(
            Increment(
                workspace_id=self.workspace_id,
                metric=metric.name,
                dimensions=series.dimensions(metric, **dims),
                day=day,
                hour=hour,
                dedupe_key=f"{self.workspace_id}#{self.scope}#{event}#{metric.name}",
                amount=amount,
                observation=observation,
            )
        )

    def count(
        self, metric: Metric, at: datetime, event: str, amount: int = 1, **dims: str | None
    ) -> None:
        assert metric.kind == "counter"
        if amount:
            self._add(metric, at, event, amount, None, dims)

    def observe(
        self, metric: Metric, at: datetime, event: str, value: float | None, **dims: str | None
    ) -> None:
        assert metric.kind == "histogram"
        if value is not None:
            self._add(metric, at, event, 1, value, dims)


# ---------------------------------------------------------------- conversations


def _cycle(item: Mapping[str, Any] | None) -> int | None:
    """The item's cycle number; None on items written before writers kept cycles."""
    if not item or item.get(inputs.CYCLE) is None:
        return None
    return _int(item.get(inputs.CYCLE))


def _cycle_start(item: Mapping[str, Any]) -> datetime | None:
    """When the item's current cycle started. Items without cycle attributes fall back to the
    handoff (human-owned) or the conversation's start: right for the first cycle only."""
    started = _time(item.get(inputs.CYCLE_STARTED_AT))
    if started is not None:
        return started
    if item.get("owner") == "human" and item.get("handed_off_at"):
        return _time(item.get("handed_off_at"))
    return _time(item.get("created_at"))


def _conversation(change: StreamChange, new: Mapping[str, Any], timezone: str) -> list[Increment]:
    old = change.old if change.event_name == "MODIFY" else None
    if change.event_name == "MODIFY" and old is None:
        return []  # a stream without old images: transitions cannot be told apart
    emit = _Emitter(str(new["workspace_id"]), str(new["conversation_id"]), timezone)
    fallback = _aware(change.approximate_time)
    after = ConversationState.of(new)
    before = ConversationState.of(old) if old is not None else None
    was: Mapping[str, Any] = old or {}
    dept = after.department_id
    cycle = _cycle(new)
    tag = f"c{cycle}" if cycle is not None else None

    def at(value: Any) -> datetime:
        return _time(value) or fallback

    if old is None:
        emit.count(
            series.STARTED,
            at(new.get("created_at")),
            "start",
            channel=str(new.get(inputs.CHANNEL) or inputs.DEFAULT_CHANNEL),
            department_id=dept,
        )

    bot_messages = _int(new.get(inputs.BOT_MESSAGE_COUNT))
    if _int(was.get(inputs.BOT_MESSAGE_COUNT)) == 0 and bot_messages > 0:
        emit.count(
            series.BOT_HANDLED, at(new.get("last_activity_at")), "bot_handled", department_id=dept
        )

    if before is not None and before.owner == "bot" and after.owner == "human":
        handed_at = at(new.get("handed_off_at"))
        emit.count(series.HANDED_OFF, handed_at, "handoff", department_id=dept)
        if bot_messages > 0:
            emit.count(series.BOT_HANDED_OFF, handed_at, "handoff", department_id=dept)
            emit.observe(
                series.BOT_TIME_TO_HANDOFF,
                handed_at,
                "handoff",
                _seconds(_cycle_start(was), handed_at),
                department_id=dept,
            )

    if before is not None and before.status == "resolved" and after.status == "open":
        reopened_at = at(new.get(inputs.CYCLE_STARTED_AT)) if cycle != _cycle(old) else fallback
        event = f"{tag}#reopen" if tag and cycle != _cycle(old) else f"reopen@{fallback}"
        emit.count(series.REOPENED, reopened_at, event, department_id=dept)

    if after.assignee_id and after.assignee_id != (before.assignee_id if before else None):
        assigned_at = new.get("assigned_at") or fallback.isoformat()
        emit.count(
            series.AGENT_ASSIGNED,
            at(new.get("assigned_at")),
            f"assign#{after.assignee_id}@{assigned_at}",
            agent_id=after.assignee_id,
            department_id=dept,
        )

    same_cycle = old is not None and _cycle(old) == cycle
    _first_response(emit, was if same_cycle else {}, new, tag, at, dept, after)

    agents_now = set(new.get(inputs.CYCLE_AGENTS) or ())
    agents_before = set(was.get(inputs.CYCLE_AGENTS) or ()) if same_cycle else set()
    for agent in sorted(agents_now - agents_before):
        emit.count(
            series.AGENT_HANDLED,
            at(new.get("last_activity_at")),
            f"{tag or 'c-'}#handled#{agent}",
            agent_id=str(agent),
            department_id=dept,
        )

    if before is not None and before.status == "open" and after.status == "resolved":
        _resolve(emit, was, new, before, after, cycle, at)

    holder = after.assignee_id or after.last_assignee_id
    if not was.get(inputs.CSAT_OFFERED_AT) and new.get(inputs.CSAT_OFFERED_AT):
        emit.count(
            series.CSAT_OFFERED,
            at(new.get(inputs.CSAT_OFFERED_AT)),
            "csat_offered",
            department_id=dept,
            agent_id=holder,
        )
    rating = _int(new.get("csat_rating"))
    if was.get("csat_rating") is None and 1 <= rating <= 5:
        emit.count(
            series.CSAT_RESPONSES,
            at(new.get(inputs.CSAT_AT)),
            "csat",
            department_id=dept,
            agent_id=holder,
            rating=str(rating),
        )
    return emit.increments


def _first_response(
    emit: _Emitter,
    was: Mapping[str, Any],
    new: Mapping[str, Any],
    tag: str | None,
    at: _At,
    dept: str | None,
    after: ConversationState,
) -> None:
    """The cycle's first public human reply (`was` is empty when the cycle is new)."""
    if tag is not None:
        replied = new.get(inputs.CYCLE_FIRST_RESPONSE_AT)
        if not replied or was.get(inputs.CYCLE_FIRST_RESPONSE_AT):
            return
        emit.observe(
            series.FIRST_RESPONSE,
            at(replied),
            f"{tag}#first_response",
            _seconds(_cycle_start(new), at(replied)),
            department_id=dept,
            agent_id=new.get(inputs.CYCLE_FIRST_RESPONSE_BY) or after.assignee_id,
        )
        return
    # Items without cycles: only the conversation's first reply is known.
    replied = new.get("first_response_at")
    if replied and not was.get("first_response_at"):
        emit.observe(
            series.FIRST_RESPONSE,
            at(replied),
            "first_response",
            _seconds(_cycle_start(new), at(replied)),
            department_id=dept,
            agent_id=after.assignee_id,
        )


def _resolve(
    emit: _Emitter,
    was: Mapping[str, Any],
    new: Mapping[str, Any],
    before: ConversationState,
    after: ConversationState,
    cycle: int | None,
    at: _At,
) -> None:
    resolved_at = at(new.get("resolved_at"))
    event = f"c{cycle}#resolve" if cycle is not None else f"resolve@{resolved_at.isoformat()}"
    dept = after.department_id
    duration = _seconds(_cycle_start(new), resolved_at)
    if after.owner == "human":
        agent = before.assignee_id or after.last_assignee_id
        emit.count(
            series.RESOLVED, resolved_at, event, department_id=dept, agent_id=agent, owner="human"
        )
        emit.observe(
            series.RESOLUTION, resolved_at, event, duration, department_id=dept, agent_id=agent
        )
        return
    emit.count(series.RESOLVED, resolved_at, event, department_id=dept, agent_id=NONE, owner="bot")
    emit.observe(series.BOT_RESOLUTION, resolved_at, event, duration, department_id=dept)
    contained = (
        _int(new.get(inputs.BOT_MESSAGE_COUNT)) > 0
        and _int(new.get(inputs.HUMAN_MESSAGE_COUNT)) == 0
        and not new.get("handed_off_at")
        and not cycle  # the conversation's first resolve: reopened ones were counted already
    )
    if contained:
        emit.count(series.BOT_RESOLVED, resolved_at, "bot_resolved", department_id=dept)


# ---------------------------------------------------------------- messages


def _message(new: Mapping[str, Any], fallback: datetime, timezone: str) -> list[Increment]:
    emit = _Emitter(str(new["workspace_id"]), str(new["conversation_id"]), timezone)
    event = f"msg#{new['message_id']}"
    sent_at = _time(new.get("created_at")) or fallback
    sender = str(new.get("sender_type") or NONE)
    emit.count(series.MESSAGES, sent_at, event, sender_type=sender)
    if sender == "agent" and not new.get("private"):
        emit.count(series.AGENT_MESSAGES, sent_at, event, agent_id=new.get("agent_id"))
    ai = new.get("ai")
    if sender == "bot" and isinstance(ai, Mapping):
        _ai_usage(emit, ai, sent_at, event)
    return emit.increments


def _ai_usage(emit: _Emitter, ai: Mapping[str, Any], at: datetime, event: str) -> None:
    outcome = str(ai.get("outcome") or "")
    model = ai.get("model")
    if outcome not in {"answer", "no_answer", "failure"}:
        return
    if model is None and outcome != "failure":
        return  # the knowledge base answered offline: no model was called
    name = str(model or NONE)
    failure_kind = str(ai.get("failure_kind") or "unknown") if outcome == "failure" else NONE
    emit.count(series.AI_CALLS, at, event, model=name, outcome=outcome, failure_kind=failure_kind)
    emit.count(series.AI_PROMPT_TOKENS, at, event, _int(ai.get("prompt_tokens")), model=name)
    emit.count(
        series.AI_COMPLETION_TOKENS, at, event, _int(ai.get("completion_tokens")), model=name
    )
    emit.count(series.AI_COST, at, event, _nano_usd(ai.get("cost_usd")), model=name)
    latency = ai.get("latency_ms")
    if latency is not None:
        emit.observe(series.AI_LATENCY, at, event, float(_int(latency)), model=name)


# ---------------------------------------------------------------- entry points


def increments(change: StreamChange, timezone: str) -> list[Increment]:
    """The metric increments one stream record stands for (often none): a Conversations
    record, or a PrivacyRequestsTable record of an audit event."""
    new = change.new
    if change.event_name == "REMOVE" or not new:
        return []
    kind = new.get("item_type")
    if kind == "conversation":
        return _conversation(change, new, timezone)
    if kind == "message" and change.event_name == "INSERT":
        return _message(new, _aware(change.approximate_time), timezone)
    if kind == "privacy_audit" and change.event_name == "INSERT":
        event = privacy_event(new)
        return privacy_increments(event, timezone) if event is not None else []
    return []


# ---------------------------------------------------------------- privacy requests

# The audit actions that count (the PrivacyRequestsTable stream's filter selects the same),
# with the status they must lead to: the audit event of every change of a request holds its
# action, type, statuses and time, never the subject.
_PRIVACY_ACTIONS: dict[str, tuple[PrivacyKind, str | None]] = {
    "submit": ("received", None),
    "complete": ("completed", "completed"),
    "deny": ("denied", "denied"),
    "cancel": ("cancelled", "cancelled"),
    "lapse": ("cancelled", "cancelled"),
    "flag_overdue": ("overdue", None),
}
PRIVACY_AUDIT_ACTIONS = tuple(sorted(_PRIVACY_ACTIONS))


def privacy_event(
    audit: Mapping[str, Any], due_at: datetime | None = None
) -> PrivacyRequestEvent | None:
    """The event a privacy audit item (`item_type: privacy_audit`) stands for, or None.

    `due_at` is the fallback deadline for audit events written before they carried theirs
    (the backfill passes the request's)."""
    action = str(audit.get("action") or "")
    if action not in _PRIVACY_ACTIONS:
        return None
    kind, status = _PRIVACY_ACTIONS[action]
    if status is not None and audit.get("to_status") != status:
        return None
    if action == "submit" and audit.get("from_status") is not None:
        return None
    at = _time(audit.get("at"))
    workspace_id, request_id = audit.get("workspace_id"), audit.get("request_id")
    if at is None or not workspace_id or not request_id:
        return None
    return PrivacyRequestEvent(
        workspace_id=str(workspace_id),
        request_id=str(request_id),
        request_type=str(audit.get("request_type") or NONE),
        kind=kind,
        at=at,
        due_at=_time(audit.get("due_at")) or due_at,
    )


_PRIVACY_METRICS: dict[PrivacyKind, Metric] = {
    "received": series.PRIVACY_RECEIVED,
    "completed": series.PRIVACY_COMPLETED,
    "denied": series.PRIVACY_DENIED,
    "cancelled": series.PRIVACY_CANCELLED,
    "overdue": series.PRIVACY_OVERDUE,
}


def privacy_increments(event: PrivacyRequestEvent, timezone: str) -> list[Increment]:
    """One counter per event, on the local day of its moment. Each kind happens at most once
    per request (terminal statuses are final, the overdue flag is set once), so the request id
    and the kind make the event's dedupe key."""
    emit = _Emitter(event.workspace_id, f"privacy#{event.request_id}", timezone)
    metric = _PRIVACY_METRICS[event.kind]
    if event.kind == "completed":
        on_time = event.due_at is None or _aware(event.at) <= _aware(event.due_at)
        emit.count(
            metric,
            event.at,
            event.kind,
            request_type=event.request_type,
            on_time="yes" if on_time else "no",
        )
    else:
        emit.count(metric, event.at, event.kind, request_type=event.request_type)
    return emit.increments
