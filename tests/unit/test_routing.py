"""Routing domain logic without AWS: strategies, state transitions, notices, and the index
attributes derived from a conversation's routing state."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from yoosr.errors import Conflict
from yoosr.models.routing import WORKSPACE_QUEUE, ConversationState
from yoosr.models.workspace import BusinessHours
from yoosr.routing import notices, strategy, transitions
from yoosr.routing.strategy import Candidate
from yoosr.store import conversations as conv_store

NOW = 1_800_000_000
DEPT = "dept_A"


def agent(user_id: str, **changes: object) -> Candidate:
    values: dict[str, object] = {
        "status": "online",
        "presence_expires_at": NOW + 60,
        "capacity": 3,
        "open_count": 0,
        "departments": (DEPT,),
    }
    values.update(changes)
    return Candidate(user_id, **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- eligibility


@pytest.mark.parametrize(
    ("changes", "eligible"),
    [
        ({}, True),
        ({"status": "away"}, False),
        ({"status": "offline"}, False),
        ({"presence_expires_at": NOW}, False),  # the heartbeat lapsed: offline by itself
        ({"presence_expires_at": None}, False),
        ({"open_count": 3}, False),  # at capacity
        ({"capacity": 0}, False),
        ({"departments": ("dept_B",)}, False),
    ],
)
def test_only_online_agents_under_capacity_in_the_department(
    changes: dict[str, object], eligible: bool
) -> None:
    assert agent("u1", **changes).eligible(DEPT, NOW) is eligible


def test_workspace_queue_is_served_by_every_online_agent() -> None:
    assert agent("u1", departments=()).eligible(None, NOW)
    assert not agent("u1", departments=(), status="away").eligible(None, NOW)


def test_candidate_from_a_stored_agent_item() -> None:
    item = {
        "user_id": "u1",
        "status": "online",
        "presence_expires_at": NOW + 5,
        "capacity": 2,
        "open_count": 1,
        "departments": [DEPT],
        "last_assigned_at": "2026-01-01T00:00:00.000Z",
    }
    assert Candidate.of(item) == Candidate(
        "u1", "online", NOW + 5, 2, 1, (DEPT,), "2026-01-01T00:00:00.000Z"
    )
    assert Candidate.of({"user_id": "u2"}).eligible(None, NOW) is False


# ---------------------------------------------------------------- strategies


def test_round_robin_prefers_never_assigned_then_longest_waiting() -> None:
    pool = [
        agent("b", last_assigned_at="2026-01-01T10:00:00.000Z"),
        agent("a", last_assigned_at="2026-01-01T09:00:00.000Z"),
        agent("c"),
    ]
    assert [c.user_id for c in strategy.ranked(pool, "round_robin", DEPT, NOW)] == ["c", "a", "b"]


def test_least_busy_prefers_fewest_open_then_longest_since_assignment() -> None:
    pool = [
        agent("a", open_count=2, last_assigned_at="2026-01-01T08:00:00.000Z"),
        agent("b", open_count=1, last_assigned_at="2026-01-01T10:00:00.000Z"),
        agent("c", open_count=1, last_assigned_at="2026-01-01T09:00:00.000Z"),
    ]
    assert strategy.choose(pool, "least_busy", DEPT, NOW) == pool[2]
    # Round robin ignores load: a waited longest.
    assert strategy.choose(pool, "round_robin", DEPT, NOW) == pool[0]


def test_nobody_eligible_means_no_choice() -> None:
    assert strategy.choose([agent("a", open_count=3)], "round_robin", DEPT, NOW) is None
    assert (
        strategy.free_slots([agent("a", open_count=1), agent("b", status="away")], DEPT, NOW) == 2
    )


def test_assignment_stamps_are_strictly_increasing_even_within_one_millisecond() -> None:
    now = "2026-01-01T10:00:00.000Z"
    pool = [agent("a", last_assigned_at=now)]
    assert strategy.assignment_stamp(now, pool) == "2026-01-01T10:00:00.001Z"
    assert strategy.assignment_stamp("2026-01-01T10:00:01.000Z", pool) == "2026-01-01T10:00:01.000Z"
    assert strategy.assignment_stamp(now, []) == now


@pytest.mark.parametrize("order", ["round_robin", "least_busy"])
def test_sequential_assignments_are_fair(order: strategy.Strategy) -> None:
    # Given 7 agents whose conversations are resolved at once, and a frozen clock
    pool = {c.user_id: c for c in (agent(f"u{i}") for i in range(7))}
    counts: Counter[str] = Counter()
    for _ in range(1000):
        chosen = strategy.choose(pool.values(), order, DEPT, NOW)
        assert chosen is not None
        stamp = strategy.assignment_stamp("2026-01-01T10:00:00.000Z", pool.values())
        pool[chosen.user_id] = strategy.after_assignment(chosen, stamp)
        pool[chosen.user_id] = Candidate(**{**pool[chosen.user_id].__dict__, "open_count": 0})
        counts[chosen.user_id] += 1
    # Then every agent got 142 or 143 of the 1,000
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 1000


def test_gone_offline_gives_a_lapsed_heartbeat_some_grace() -> None:
    assert strategy.gone_offline(None, NOW, 60)
    assert strategy.gone_offline(agent("a", status="offline"), NOW, 60)
    assert not strategy.gone_offline(agent("a", status="away"), NOW, 60)
    assert not strategy.gone_offline(agent("a", presence_expires_at=NOW - 30), NOW, 60)
    assert strategy.gone_offline(agent("a", presence_expires_at=NOW - 60), NOW, 60)


def test_strategy_of_a_department() -> None:
    assert strategy.strategy_of({"routing_strategy": "least_busy"}) == "least_busy"
    assert strategy.strategy_of(None) == "round_robin"


# ---------------------------------------------------------------- transitions

T0 = "2026-01-01T10:00:00.000Z"
DUE = "2026-01-01T10:05:00.000Z"


def test_hand_off_queues_once_and_starts_the_first_response_clock() -> None:
    bot = ConversationState()
    queued = transitions.hand_off(bot, DEPT, "01ARRIVAL", T0, DUE)
    assert queued.owner == "human" and queued.waiting and queued.arrival_id == "01ARRIVAL"
    assert queued.handed_off_at == T0 and queued.first_response_due_at == DUE
    assert queued.awaiting_first_response
    # Asking again changes nothing; a held conversation is not queued again.
    assert transitions.hand_off(queued, "dept_B", "01OTHER", T0, DUE) == queued
    held = transitions.claim(queued, "u1", T0)
    assert transitions.hand_off(held, DEPT, "01OTHER", T0, DUE) == held


def test_hand_off_repairs_a_human_conversation_nobody_queued() -> None:
    orphan = ConversationState(owner="human")
    assert orphan.needs_routing
    assert transitions.hand_off(orphan, None, "01A", T0, DUE).waiting


def test_resolved_conversations_cannot_be_handed_off_or_assigned() -> None:
    resolved = ConversationState(status="resolved")
    with pytest.raises(Conflict):
        transitions.hand_off(resolved, DEPT, "01A", T0, DUE)
    with pytest.raises(Conflict):
        transitions.assign(resolved, "u1", T0, DUE)


def test_claim_needs_a_waiting_conversation() -> None:
    with pytest.raises(Conflict):
        transitions.claim(ConversationState(), "u1", T0)
    held = transitions.claim(
        ConversationState(owner="human", queued=True, arrival_id="1"), "u1", T0
    )
    assert held.holder == "u1" and not held.queued


def test_assign_transfer_give_back_resolve_reopen() -> None:
    queued = transitions.hand_off(ConversationState(), DEPT, "01A", T0, DUE)
    mine = transitions.assign(queued, "u2", T0, DUE)
    assert mine.holder == "u2" and not mine.queued
    moved = transitions.transfer(mine, "dept_B", "01B", T0, DUE)
    # A transfer keeps the original arrival: the visitor does not go to the back of the line.
    assert moved.waiting and moved.department_id == "dept_B" and moved.arrival_id == "01A"
    assert moved.holder is None
    back = transitions.give_back(transitions.claim(moved, "u3", T0))
    assert back.waiting and back.arrival_id == "01A" and back.last_assignee_id == "u3"
    done = transitions.resolve(transitions.claim(back, "u4", T0), "u4", T0)
    assert done.status == "resolved" and done.holder is None and done.last_assignee_id == "u4"
    assert not done.queued and not done.awaiting_first_response
    reopened = transitions.reopen(done, "u5", T0)
    assert reopened.status == "open" and reopened.holder == "u5"
    assert transitions.reopen(ConversationState(status="resolved"), "u5", T0).holder is None
    again = transitions.visitor_reopen(done)
    assert again.status == "open" and again.needs_routing


def test_first_response_and_overdue_flag() -> None:
    waiting = transitions.hand_off(ConversationState(), DEPT, "01A", T0, DUE)
    flagged = transitions.flag_overdue(waiting)
    assert flagged.first_response_overdue and not flagged.awaiting_first_response
    answered = transitions.first_response(waiting, T0)
    assert answered.first_response_at == T0 and not answered.awaiting_first_response
    assert transitions.flag_overdue(answered) == answered
    assert transitions.first_response(answered, DUE) == answered


def test_state_from_a_stored_item() -> None:
    item = {
        "status": "open",
        "owner": "human",
        "department_id": DEPT,
        "assignee_id": None,
        "queue_sk": "01A",
        "arrival_id": "01A",
        "first_response_overdue": True,
    }
    state = ConversationState.of(item)
    assert state.waiting and state.queue_key == DEPT and state.first_response_overdue
    assert ConversationState.of({}).queue_key == WORKSPACE_QUEUE


# ---------------------------------------------------------------- derived attributes


def test_index_attributes_follow_the_state() -> None:
    ws, conv = "ws_1", "conv_1"
    queued = transitions.hand_off(ConversationState(), DEPT, "01A", T0, DUE)
    sets, removes = conv_store.state_attributes(ws, conv, ConversationState(), queued)
    assert sets["inbox_department_pk"] == f"ws_1#DEPT#{DEPT}#open"
    # Keys that keep their value are not rewritten (still open, still unassigned)
    assert "inbox_status_pk" not in sets and "inbox_assignee_pk" not in sets
    created, _ = conv_store.state_attributes(ws, conv, None, queued)
    assert created["inbox_status_pk"] == "ws_1#STATUS#open"
    assert created["inbox_assignee_pk"] == "ws_1#ASSIGNEE#unassigned#open"
    assert (sets["queue_pk"], sets["queue_sk"]) == (f"ws_1#QUEUE#{DEPT}", "01A")
    assert sets["sla_sk"] == f"{DUE}#ws_1#conv_1"
    assert "work_pk" not in sets and "work_pk" not in removes  # holder unchanged: untouched

    held = transitions.claim(queued, "u1", T0)
    sets, removes = conv_store.state_attributes(ws, conv, queued, held)
    assert sets["inbox_assignee_pk"] == "ws_1#ASSIGNEE#u1#open"
    assert sets["work_sk"] == "H#ws_1#u1#conv_1"
    assert {"queue_pk", "queue_sk"} <= set(removes)
    assert "sla_pk" not in sets and "sla_pk" not in removes  # unchanged inputs: untouched

    done = transitions.resolve(held, "u1", T0)
    sets, removes = conv_store.state_attributes(ws, conv, held, done)
    # Resolved conversations stay findable under their last assignee.
    assert sets["inbox_assignee_pk"] == "ws_1#ASSIGNEE#u1#resolved"
    assert sets["inbox_status_pk"] == "ws_1#STATUS#resolved"
    assert sets["inbox_department_pk"] == f"ws_1#DEPT#{DEPT}#resolved"
    assert {"work_pk", "work_sk", "sla_pk", "sla_sk"} <= set(removes)


def test_index_keys_are_removed_never_set_to_null() -> None:
    sets, removes = conv_store.state_attributes("ws", "c", None, ConversationState())
    assert "inbox_department_pk" in removes
    assert all(sets.get(name) is not None for name in ("inbox_status_pk", "inbox_assignee_pk"))
    assert not {"queue_pk", "work_pk", "sla_pk"} & set(sets)


def test_shards_are_stable_and_bounded() -> None:
    assert conv_store.shard("ws_1#dept") == conv_store.shard("ws_1#dept")
    assert {conv_store.shard(f"k{i}") for i in range(200)} == set(range(conv_store.ROUTING_SHARDS))


# ---------------------------------------------------------------- notices


def test_first_response_threshold_precedence() -> None:
    assert notices.first_response_sla_seconds({"first_response_sla_seconds": 120}, 600) == 120
    assert notices.first_response_sla_seconds({"first_response_sla_seconds": None}, 600) == 600
    assert notices.first_response_sla_seconds(None, None) == 300


HOURS = BusinessHours.model_validate(
    {"timezone": "America/New_York", "weekly": {"mon": [["09:00", "17:00"]]}}
)


def test_outside_business_hours_says_when_the_team_is_back() -> None:
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    available = notices.availability(HOURS, saturday, agents_online=False)
    assert not available.inside_business_hours
    notice = notices.waiting_notice(available, 3, saturday)
    assert notice.kind == "outside_business_hours"
    assert "Monday at 09:00 (America/New_York)" in notice.text
    assert "number 3 in line" in notice.text
    assert notice.expected_at == "2026-11-30T14:00:00.000Z"


def test_inside_hours_without_agents_or_with_busy_agents() -> None:
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    nobody = notices.waiting_notice(notices.availability(HOURS, monday, False), 1, monday)
    assert nobody.kind == "no_agent_online" and nobody.expected_at is None
    busy = notices.waiting_notice(notices.availability(None, monday, True), 2, monday)
    assert busy.kind == "all_agents_busy" and "number 2" in busy.text


def test_department_hours_override_the_workspace() -> None:
    override = {"business_hours": {"timezone": "Europe/Berlin", "weekly": {}}}
    hours = notices.team_hours(HOURS, override)
    assert hours is not None and hours.timezone == "Europe/Berlin"
    assert notices.team_hours(HOURS, {"business_hours": None}) is HOURS
    assert notices.team_hours(HOURS, {"business_hours": {"timezone": "Nowhere/Land"}}) is HOURS
