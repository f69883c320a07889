"""One stream record → metric increments, and the attributes writers keep for it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from yoosr.analytics import events, inputs
from yoosr.analytics.events import Increment, PrivacyRequestEvent, StreamChange
from yoosr.models.routing import ConversationState
from yoosr.routing import transitions

WS = "ws_1"
TZ = "America/New_York"  # UTC-4 in June
RECORD_TIME = datetime(2025, 6, 10, 23, 59, tzinfo=UTC)


def conversation(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_type": "conversation",
        "workspace_id": WS,
        "conversation_id": "conv_1",
        "status": "open",
        "owner": "bot",
        "department_id": None,
        "assignee_id": None,
        "created_at": "2025-06-10T14:00:00.000Z",
        "last_activity_at": "2025-06-10T14:00:00.000Z",
        "csat_rating": None,
        **inputs.initial("2025-06-10T14:00:00.000Z"),
    }
    item.update(changes)
    return item


def modify(old: dict[str, Any], **changes: Any) -> StreamChange:
    return StreamChange("MODIFY", old, {**old, **changes}, RECORD_TIME)


def counted(change: StreamChange) -> dict[str, int | float]:
    """metric|dims → amount (counters) or observation (histograms)."""
    result: dict[str, int | float] = {}
    for inc in events.increments(change, TZ):
        assert inc.series not in result
        result[inc.series] = inc.observation if inc.observation is not None else inc.amount
    return result


def only(change: StreamChange) -> Increment:
    (inc,) = events.increments(change, TZ)
    return inc


# ---------------------------------------------------------------- conversations


def test_start_counts_by_channel_and_department_on_the_local_day() -> None:
    item = conversation(created_at="2025-06-11T02:30:00.000Z", channel="email")
    inc = only(StreamChange("INSERT", None, item, RECORD_TIME))
    assert inc.metric == "conversations.started"
    assert inc.dimensions == (("channel", "email"), ("department_id", "-"))
    assert (inc.day, inc.hour) == ("2025-06-10", 22)  # 02:30 UTC is 22:30 in New York
    assert inc.dedupe_key == f"{WS}#conv_1#start#conversations.started"


def test_items_written_before_channels_count_as_widget() -> None:
    item = conversation()
    del item["channel"]
    assert only(StreamChange("INSERT", None, item, RECORD_TIME)).dimensions[0] == (
        "channel",
        "widget",
    )


@pytest.mark.parametrize(
    "change",
    [
        modify(conversation(), labels={"vip"}, last_activity_at="2025-06-10T15:00:00.000Z"),
        StreamChange("REMOVE", conversation(), None, RECORD_TIME),  # erasure or TTL
        StreamChange("MODIFY", None, conversation(), RECORD_TIME),  # no old image
        StreamChange("INSERT", None, {"item_type": "unread_marker"}, RECORD_TIME),
        StreamChange("INSERT", None, {"item_type": "queue_entry", "workspace_id": WS}, RECORD_TIME),
    ],
)
def test_records_that_count_nothing(change: StreamChange) -> None:
    assert events.increments(change, TZ) == []


def test_first_bot_message_makes_it_bot_handled_once() -> None:
    first = modify(conversation(), bot_message_count=1, last_activity_at="2025-06-10T14:00:05Z")
    assert counted(first) == {"conversations.bot_handled|department_id=-": 1}
    second = modify(conversation(bot_message_count=1), bot_message_count=2)
    assert counted(second) == {}


def test_handoff_of_a_bot_handled_conversation() -> None:
    old = conversation(bot_message_count=2, cycle_started_at="2025-06-10T14:00:00.000Z")
    state = ConversationState.of(old)
    after = transitions.hand_off(state, "dept_1", "arr_1", "2025-06-10T14:02:30.000Z", None)
    new = inputs.patch(old, after, "2025-06-10T14:02:30.000Z").applied_to(
        {
            **old,
            "owner": after.owner,
            "department_id": "dept_1",
            "handed_off_at": after.handed_off_at,
        }
    )
    assert counted(StreamChange("MODIFY", old, new, RECORD_TIME)) == {
        "conversations.handed_off|department_id=dept_1": 1,
        "bot.handed_off|department_id=dept_1": 1,
        "bot.time_to_handoff|department_id=dept_1": 150.0,
    }


def test_handoff_before_the_bot_spoke_is_not_the_bots() -> None:
    # An agent took the conversation over (or the visitor asked at once): a handoff, but the
    # bot handled nothing, so neither its handoff rate nor its time counts it.
    change = modify(conversation(), owner="human", handed_off_at="2025-06-10T14:01:00.000Z")
    assert counted(change) == {"conversations.handed_off|department_id=-": 1}


def test_bot_resolves_once_even_after_a_reopen() -> None:
    resolved = modify(
        conversation(bot_message_count=1),
        status="resolved",
        resolved_at="2025-06-10T14:10:00.000Z",
        resolved_by="bot",
    )
    assert counted(resolved) == {
        "conversations.resolved|department_id=-|agent_id=-|owner=bot": 1,
        "bot.resolution_time|department_id=-": 600.0,
        "conversations.bot_resolved|department_id=-": 1,
    }
    # The visitor writes again (cycle 1, the bot continues) and the bot closes it again.
    reopened = conversation(
        bot_message_count=3, cycle=1, cycle_started_at="2025-06-10T15:00:00.000Z"
    )
    again = modify(reopened, status="resolved", resolved_at="2025-06-10T15:01:00.000Z")
    assert counted(again) == {
        "conversations.resolved|department_id=-|agent_id=-|owner=bot": 1,
        "bot.resolution_time|department_id=-": 60.0,
    }


def test_a_bot_resolve_after_a_human_wrote_is_not_contained() -> None:
    item = conversation(bot_message_count=1, human_message_count=1)
    change = modify(item, status="resolved", resolved_at="2025-06-10T14:10:00.000Z")
    assert "conversations.bot_resolved|department_id=-" not in counted(change)


def test_human_resolution_is_measured_from_the_cycle_start() -> None:
    old = conversation(
        owner="human",
        department_id="d",
        assignee_id="u1",
        handed_off_at="2025-06-10T14:02:00.000Z",
        cycle=1,
        cycle_started_at="2025-06-10T14:02:00.000Z",
    )
    change = modify(
        old,
        status="resolved",
        assignee_id=None,
        last_assignee_id="u1",
        resolved_at="2025-06-10T14:32:00.000Z",
    )
    assert counted(change) == {
        "conversations.resolved|department_id=d|agent_id=u1|owner=human": 1,
        "resolution_time|department_id=d|agent_id=u1": 1800.0,
    }
    (resolve, _) = events.increments(change, TZ)
    assert resolve.dedupe_key == f"{WS}#conv_1#c1#resolve#conversations.resolved"
    assert resolve.hour == 10  # 14:32 UTC, from resolved_at, not from the record's time


def test_first_response_of_each_cycle_and_never_twice() -> None:
    old = conversation(
        owner="human", assignee_id="u1", cycle=2, cycle_started_at="2025-06-10T15:00:00.000Z"
    )
    replied = modify(
        old,
        cycle_first_response_at="2025-06-10T15:10:00.000Z",
        cycle_first_response_by="u2",
        cycle_agents={"u2"},
        human_message_count=1,
    )
    assert counted(replied) == {
        "first_response_time|department_id=-|agent_id=u2": 600.0,
        "agent.conversations_handled|agent_id=u2|department_id=-": 1,
    }
    later = modify(replied.new or {}, cycle_agents={"u2", "u3"}, human_message_count=2)
    assert counted(later) == {"agent.conversations_handled|agent_id=u3|department_id=-": 1}


def test_items_without_cycles_fall_back_to_the_conversations_first_response() -> None:
    old = conversation(owner="human", assignee_id="u1", handed_off_at="2025-06-10T14:02:00Z")
    for name in ("cycle", "cycle_started_at"):
        del old[name]
    change = modify(old, first_response_at="2025-06-10T14:05:00Z")
    assert counted(change) == {"first_response_time|department_id=-|agent_id=u1": 180.0}


def test_reopen_counts_once_per_cycle() -> None:
    old = conversation(status="resolved", owner="human", cycle=1)
    new_cycle = modify(old, status="open", cycle=2, cycle_started_at="2025-06-10T16:00:00Z")
    (inc,) = events.increments(new_cycle, TZ)
    assert (inc.metric, inc.hour) == ("conversations.reopened", 12)
    assert inc.dedupe_key == f"{WS}#conv_1#c2#reopen#conversations.reopened"


def test_assignment_counts_per_agent_and_moment() -> None:
    old = conversation(owner="human", department_id="d", queue_sk="arr_1")
    change = modify(old, assignee_id="u1", assigned_at="2025-06-10T14:03:00Z", queue_sk=None)
    (inc,) = events.increments(change, TZ)
    assert inc.series == "agent.assigned|agent_id=u1|department_id=d"
    assert inc.dedupe_key == f"{WS}#conv_1#assign#u1@2025-06-10T14:03:00Z#agent.assigned"


def test_rating_offer_and_rating() -> None:
    old = conversation(status="resolved", owner="human", last_assignee_id="u1")
    offered = modify(old, csat_offered_at="2025-06-10T15:00:00Z")
    assert counted(offered) == {"csat.offered|department_id=-|agent_id=u1": 1}
    rated = modify(offered.new or {}, csat_rating=Decimal(4), csat_at="2025-06-10T15:05:00Z")
    assert counted(rated) == {"csat.responses|department_id=-|agent_id=u1|rating=4": 1}
    nonsense = modify(old, csat_rating=9)
    assert counted(nonsense) == {}


def test_csat_items_are_not_counted_twice() -> None:
    # The rating counts from the conversation item (which knows department and agent).
    item = {"item_type": "csat", "workspace_id": WS, "conversation_id": "conv_1", "rating": 5}
    assert events.increments(StreamChange("INSERT", None, item, RECORD_TIME), TZ) == []


# ---------------------------------------------------------------- messages


def message(sender: str, **extra: Any) -> StreamChange:
    item = {
        "item_type": "message",
        "workspace_id": WS,
        "conversation_id": "conv_1",
        "message_id": "msg_1",
        "sender_type": sender,
        "text": "secret text never counted",
        "created_at": "2025-06-10T14:00:00.000Z",
        **extra,
    }
    return StreamChange("INSERT", None, item, RECORD_TIME)


def test_agent_messages_count_per_agent_and_notes_not_at_all() -> None:
    assert counted(message("agent", agent_id="u1")) == {
        "messages|sender_type=agent": 1,
        "agent.messages|agent_id=u1": 1,
    }
    note = {
        "item_type": "note",
        "workspace_id": WS,
        "conversation_id": "conv_1",
        "note_id": "note_1",
        "sender_type": "agent",
        "agent_id": "u1",
        "private": True,
    }
    assert events.increments(StreamChange("INSERT", None, note, RECORD_TIME), TZ) == []


def test_bot_and_visitor_messages_are_no_agent_messages() -> None:
    assert counted(message("bot")) == {"messages|sender_type=bot": 1}
    assert counted(message("visitor")) == {"messages|sender_type=visitor": 1}
    assert counted(message("system")) == {"messages|sender_type=system": 1}


def test_ai_usage_from_the_bot_message() -> None:
    ai = {
        "outcome": "answer",
        "model": "openai/gpt-4o-mini",
        "prompt_tokens": Decimal(812),
        "completion_tokens": 64,
        "cost_usd": "0.000123456",
        "latency_ms": 950,
        "failure_kind": None,
    }
    assert counted(message("bot", ai=ai)) == {
        "messages|sender_type=bot": 1,
        "ai.calls|model=openai/gpt-4o-mini|outcome=answer|failure_kind=-": 1,
        "ai.prompt_tokens|model=openai/gpt-4o-mini": 812,
        "ai.completion_tokens|model=openai/gpt-4o-mini": 64,
        "ai.cost_nano_usd|model=openai/gpt-4o-mini": 123456,
        "ai.latency|model=openai/gpt-4o-mini": 950.0,
    }


def test_ai_failures_without_a_model_or_a_call() -> None:
    key = {"outcome": "failure", "failure_kind": "key_unavailable"}
    assert counted(message("bot", ai=key)) == {
        "messages|sender_type=bot": 1,
        "ai.calls|model=-|outcome=failure|failure_kind=key_unavailable": 1,
    }
    broken_cost = {"outcome": "failure", "model": "m", "cost_usd": "n/a", "latency_ms": 10}
    assert counted(message("bot", ai=broken_cost)) == {
        "messages|sender_type=bot": 1,
        "ai.calls|model=m|outcome=failure|failure_kind=unknown": 1,
        "ai.latency|model=m": 10.0,
    }


@pytest.mark.parametrize(
    "ai",
    [
        {"outcome": "answer", "source": "knowledge"},  # offline knowledge answer: no model
        {"outcome": "skipped", "reason": "restricted"},  # restricted visitor: no AI step
        "not a map",
    ],
)
def test_no_model_call_no_ai_usage(ai: Any) -> None:
    assert counted(message("bot", ai=ai)) == {"messages|sender_type=bot": 1}


def test_messages_dedupe_by_message_id() -> None:
    keys = {inc.dedupe_key for inc in events.increments(message("agent", agent_id="u1"), TZ)}
    assert keys == {
        f"{WS}#conv_1#msg#msg_1#messages",
        f"{WS}#conv_1#msg#msg_1#agent.messages",
    }


# ---------------------------------------------------------------- privacy


def test_privacy_requests_received_and_completed_on_time() -> None:
    at = datetime(2025, 6, 10, 12, tzinfo=UTC)
    received = events.privacy_increments(
        PrivacyRequestEvent(WS, "pr_1", "export", "received", at), TZ
    )
    assert [inc.series for inc in received] == ["privacy.received|request_type=export"]
    on_time, late, no_deadline = (
        events.privacy_increments(
            PrivacyRequestEvent(WS, "pr_1", "export", "completed", at, due_at=due), TZ
        )[0].series
        for due in (at, datetime(2025, 6, 10, 11, tzinfo=UTC), None)
    )
    assert on_time == "privacy.completed|request_type=export|on_time=yes"
    assert late == "privacy.completed|request_type=export|on_time=no"
    assert no_deadline == on_time


def audit(action: str, to_status: str, at: str, **more: Any) -> dict[str, Any]:
    """A privacy audit item as the PrivacyRequestsTable stream carries it (its NewImage)."""
    return {
        "pk": f"{WS}#PRIVACY#pr_7",
        "sk": "AUDIT#00000001",
        "item_type": "privacy_audit",
        "workspace_id": WS,
        "request_id": "pr_7",
        "sequence": 1,
        "at": at,
        "actor_kind": "system",
        "actor": "privacy_worker",
        "action": action,
        "request_type": "delete",
        "from_status": "in_progress",
        "to_status": to_status,
        "outcome": "pending",
        "reason": None,
        "counts": {},
        "subject_kind": "email",
        "subject_hash": "ab" * 32,
        "due_at": "2025-07-10T12:00:00Z",
        **more,
    }


def inserted(item: dict[str, Any]) -> list[Increment]:
    return events.increments(StreamChange("INSERT", None, item, RECORD_TIME), TZ)


def test_privacy_audit_events_count_what_happened_to_requests() -> None:
    # Received: the submit of a new request, on its local day (UTC-4: 02:00Z is the 9th)
    (received,) = inserted(audit("submit", "queued", "2025-06-10T02:00:00Z", from_status=None))
    assert (received.series, received.day, received.hour) == (
        "privacy.received|request_type=delete",
        "2025-06-09",
        22,
    )
    assert received.dedupe_key == f"{WS}#privacy#pr_7#received#privacy.received"
    # Completed on time (at the deadline), and late (a second after it)
    (on_time,) = inserted(audit("complete", "completed", "2025-07-10T12:00:00Z"))
    (late,) = inserted(audit("complete", "completed", "2025-07-10T12:00:01Z"))
    assert on_time.series == "privacy.completed|request_type=delete|on_time=yes"
    assert late.series == "privacy.completed|request_type=delete|on_time=no"
    assert on_time.dedupe_key == late.dedupe_key  # one completion per request, ever
    # Denied, cancelled (by someone, or lapsed unverified), flagged overdue
    kinds = {
        inc.series
        for item in (
            audit("deny", "denied", "2025-06-11T12:00:00Z", from_status="awaiting_approval"),
            audit("cancel", "cancelled", "2025-06-11T12:00:00Z", from_status="queued"),
            audit("lapse", "cancelled", "2025-06-11T12:00:00Z", from_status="queued"),
            audit("flag_overdue", "in_progress", "2025-07-11T06:00:00Z"),
        )
        for inc in inserted(item)
    }
    assert kinds == {
        "privacy.denied|request_type=delete",
        "privacy.cancelled|request_type=delete",
        "privacy.overdue|request_type=delete",
    }
    # Steps that are not an outcome count nothing; nor does a modified or removed item
    for action, to in (("start", "in_progress"), ("verify", "queued"), ("fail", "failed")):
        assert inserted(audit(action, to, "2025-06-11T12:00:00Z")) == []
    assert inserted(audit("submit", "queued", "2025-06-11T12:00:00Z")) == []  # not new
    assert inserted(audit("complete", "failed", "2025-06-11T12:00:00Z")) == []
    item = audit("complete", "completed", "2025-06-11T12:00:00Z")
    assert events.increments(StreamChange("MODIFY", item, item, RECORD_TIME), TZ) == []
    assert events.increments(StreamChange("REMOVE", item, None, RECORD_TIME), TZ) == []
    # The request item itself (which may hold a raw identifier) is never read
    request = {**item, "item_type": "privacy_request", "status": "completed"}
    assert inserted(request) == []


def test_privacy_audit_without_its_deadline_uses_the_fallback() -> None:
    item = audit("complete", "completed", "2025-07-10T12:00:01Z")
    del item["due_at"]
    event = events.privacy_event(item, due_at=datetime(2025, 7, 11, tzinfo=UTC))
    assert event is not None and event.kind == "completed"
    (inc,) = events.privacy_increments(event, TZ)
    assert inc.series == "privacy.completed|request_type=delete|on_time=yes"
    # No deadline at all counts as on time (documented)
    assert events.privacy_event(item) == PrivacyRequestEvent(
        WS, "pr_7", "delete", "completed", datetime(2025, 7, 10, 12, 0, 1, tzinfo=UTC)
    )


# ---------------------------------------------------------------- writer inputs


def test_patch_starts_a_cycle_on_handoff_and_reopen() -> None:
    item = conversation(cycle_first_response_at="x", cycle_agents={"u9"})
    state = ConversationState.of(item)
    handed = transitions.hand_off(state, None, "arr", "T1", None)
    patch = inputs.patch(item, handed, "T1")
    assert patch.sets == {"cycle": 1, "cycle_started_at": "T1"}
    assert set(patch.removes) == {
        "cycle_first_response_at",
        "cycle_first_response_by",
        "cycle_agents",
    }
    resolved = conversation(status="resolved", owner="human", cycle=1)
    reopened = transitions.visitor_reopen(ConversationState.of(resolved))
    assert inputs.patch(resolved, reopened, "T2").sets == {"cycle": 2, "cycle_started_at": "T2"}
    # Nothing else starts a cycle: a transfer, a claim, a resolve.
    human = conversation(owner="human", queue_sk="arr")
    claimed = transitions.claim(ConversationState.of(human), "u1", "T3")
    assert inputs.patch(human, claimed, "T3") == inputs.Patch()


def test_patch_for_replies() -> None:
    item = conversation(owner="human", assignee_id="u1", cycle=1, cycle_started_at="T0")
    state = ConversationState.of(item)
    first = inputs.patch(item, state, "T1", message="agent", agent_id="u1")
    assert first.sets == {"cycle_first_response_at": "T1", "cycle_first_response_by": "u1"}
    assert first.adds == {"human_message_count": 1, "cycle_agents": {"u1"}}
    replied = first.applied_to(item)
    second = inputs.patch(replied, state, "T2", message="agent", agent_id="u2")
    assert second.sets == {}
    assert second.applied_to(replied)["cycle_agents"] == {"u1", "u2"}
    assert second.applied_to(replied)["human_message_count"] == 2
    with pytest.raises(ValueError, match="agent_id"):
        inputs.patch(item, state, "T3", message="agent")


def test_a_reply_that_takes_over_a_bot_conversation_starts_and_answers_the_cycle() -> None:
    item = conversation()
    state = ConversationState.of(item)
    after = transitions.first_response(transitions.assign(state, "u3", "T1", None), "T1")
    patch = inputs.patch(item, after, "T1", message="agent", agent_id="u3")
    assert patch.sets == {
        "cycle": 1,
        "cycle_started_at": "T1",
        "cycle_first_response_at": "T1",
        "cycle_first_response_by": "u3",
        "cycle_agents": {"u3"},  # SET, since one expression cannot REMOVE and ADD it
    }
    assert patch.removes == []


def test_a_reply_to_a_resolved_conversation_answers_no_cycle() -> None:
    item = conversation(status="resolved", owner="human", cycle=1)
    state = ConversationState.of(item)
    patch = inputs.patch(item, state, "T1", message="agent", agent_id="u1")
    assert "cycle_first_response_at" not in patch.sets


def test_the_rating_is_offered_at_the_first_resolve_only() -> None:
    item = conversation(owner="human", assignee_id="u1")
    resolved = transitions.resolve(ConversationState.of(item), "u1", "T1")
    assert inputs.patch(item, resolved, "T1", offer_rating=True).sets == {"csat_offered_at": "T1"}
    offered = {**item, "csat_offered_at": "T1"}
    assert inputs.patch(offered, resolved, "T2", offer_rating=True).sets == {}
    assert inputs.patch(item, resolved, "T1").sets == {}
    bot = conversation(bot_message_count=1)
    assert inputs.patch(bot, ConversationState.of(bot), "T1", message="bot").adds == {
        "bot_message_count": 1
    }


def test_for_write_reads_the_messages_written_with_the_transition() -> None:
    item = conversation()
    state = ConversationState.of(item)
    bot = {"item_type": "message", "sender_type": "bot", "created_at": "T1"}
    note = {"item_type": "note", "sender_type": "agent", "agent_id": "u1", "created_at": "T1"}
    system = {"item_type": "message", "sender_type": "system", "created_at": "T1"}
    # Two bot messages in one turn count two; notes and system messages count nothing.
    assert inputs.for_write(item, state, "T9", [bot, bot, note, system]).adds == {
        "bot_message_count": 2
    }
    assert not inputs.for_write(item, state, "T9", [note, system])
    # A handoff starts its cycle at the handoff's own time, not at the write's clock.
    handed = transitions.hand_off(state, "d1", "arr", "T1", None)
    assert inputs.for_write(item, handed, "T9", [bot]).sets == {
        "cycle": 1,
        "cycle_started_at": "T1",
    }


def test_for_write_times_a_reply_by_its_message_and_guards_the_first_reply() -> None:
    item = conversation(owner="human", assignee_id="u1", cycle=1, cycle_started_at="T0")
    state = ConversationState.of(item)
    reply = {"item_type": "message", "sender_type": "agent", "agent_id": "u1", "created_at": "T5"}
    patch = inputs.for_write(item, state, "T6", [reply])
    assert patch.sets == {"cycle_first_response_at": "T5", "cycle_first_response_by": "u1"}
    # A concurrent reply must not overwrite the first one: the write is conditional on it.
    assert patch.absent == ("cycle_first_response_at",)
    # A resolve offers the rating at the resolve's time.
    resolved = transitions.resolve(state, "u1", "T7")
    assert inputs.for_write(item, resolved, "T8").sets == {"csat_offered_at": "T7"}
    # A visitor's reopen starts a cycle at the visitor's message.
    closed = conversation(status="resolved", owner="human", cycle=1, csat_offered_at="T7")
    reopened = transitions.visitor_reopen(ConversationState.of(closed))
    visitor = {"item_type": "message", "sender_type": "visitor", "created_at": "T9"}
    assert inputs.for_write(closed, reopened, "T10", [visitor]).sets == {
        "cycle": 2,
        "cycle_started_at": "T9",
    }
