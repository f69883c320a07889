"""Automatic assignment under moto: fairness of round robin over 1,000 handoffs, least busy,
eligibility, the scheduled sweep (overdue first responses, give-backs, waiting queues)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.resources import create_resources
from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human, put_online_agent
from tests.integration.widget_support import conversation_item
from tests.support import HttpHandlerClient, LambdaContext, load_function, sample_event
from yoosr import clock, ids
from yoosr.routing import dispatcher, handoff, transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import agents, assignment, conversations, ddb
from yoosr.store.assignment import Tables


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture(scope="module")
def events(stack: Any) -> Any:
    return load_function("agent_routing_events")


@pytest.fixture(scope="module")
def sweeper(stack: Any) -> Any:
    return load_function("agent_routing_sweep")


@pytest.fixture
def team(stack: Any, routing: HttpHandlerClient, widget: HttpHandlerClient) -> Team:
    return Team(Org(routing), widget, stack)


@pytest.fixture
def tables(stack: Any) -> Tables:
    return Tables(stack.table("WorkspacesTable"), stack.table("ConversationsTable"))


@pytest.fixture
def tap(stack: Any) -> StreamTap:
    return StreamTap(stack, "AgentRoutingEventsFunction")


@pytest.fixture
def later() -> Iterator[list[float]]:
    """Move yoosr's clock forward: later[0] seconds are added to the real time."""
    shift = [0.0]
    clock.freeze(lambda: time.time() + shift[0])
    yield shift
    clock.unfreeze()


def keep_online(team: Team, stack: Any, name: str, seconds: int = 3600) -> None:
    """A long heartbeat, written directly (the API gives 90 s; a long proof outlives it)."""
    agents.set_presence(
        stack.table("WorkspacesTable"),
        team.ws,
        team.members[name].user_id,
        "online",
        clock.epoch() + seconds,
        clock.iso(),
    )


def new_conversation(tables: Tables, ws: str) -> dict[str, Any]:
    item = conversations.conversation_item(
        ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
    )
    conversations.start(tables.conversations, item, None, None)
    return item


def hand_off(tables: Tables, ws: str, department_id: str | None = None) -> dict[str, Any]:
    """What the widget does on a handoff, then what the stream consumer does."""
    conversation = new_conversation(tables, ws)
    result = handoff.request_human(tables, ws, conversation, department_id, None, "test")
    assert result.handed_off
    dispatcher.dispatch_queue(
        tables, ws, assignment.queue_key_of(result.conversation["department_id"])
    )
    found = conversations.get(tables.conversations, ws, conversation["conversation_id"])
    assert found is not None
    return found


def resolve(tables: Tables, ws: str, conversation_id: str) -> None:
    now = clock.iso()
    apply_transition(
        tables, ws, conversation_id, lambda before, _: transitions.resolve(before, "test", now)
    )


def sweep(sweeper: Any) -> dict[str, Any]:
    result: dict[str, Any] = sweeper.lambda_handler(
        sample_event("agent_routing_sweep_schedule"), LambdaContext()
    )
    return result


# ---------------------------------------------------------------- strategies


@pytest.fixture
def own_tables(stack: Any) -> Iterator[Tables]:
    """Tables of the proof's own: moto reads a whole table for every query, so a thousand
    conversations left in the shared tables would slow every later test of the session."""
    resources = create_resources(stack.resources.template, boto3.Session(), "yoosr-fairness")
    made = Tables(resources.ref("WorkspacesTable"), resources.ref("ConversationsTable"))
    yield made
    client = boto3.client("dynamodb")
    for table in (made.workspaces, made.conversations):
        client.delete_table(TableName=table)


def test_round_robin_is_fair_over_1000_sequential_handoffs(own_tables: Tables) -> None:
    # Given a round-robin department of 7 agents (1,000 is not a multiple of 7)
    ws = ids.workspace_id_for_org(f"org_fair_{ids.ulid()}")
    sales = ids.new_id("dept")
    ddb.put(
        own_tables.workspaces,
        {
            "pk": ws,
            "sk": f"DEPT#{sales}",
            "item_type": "department",
            "workspace_id": ws,
            "department_id": sales,
            "name": "Sales",
            "routing_strategy": "round_robin",
        },
    )
    agents_ = [f"user_fair{i}" for i in range(7)]
    for user_id in agents_:
        put_online_agent(own_tables.workspaces, ws, user_id, [sales])
    counts: Counter[str] = Counter()
    # When 1,000 visitors ask for a human one after another, and each is resolved at once
    for _ in range(1000):
        conversation = conversations.conversation_item(
            ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
        )
        ddb.put(own_tables.conversations, conversation)
        result = handoff.request_human(own_tables, ws, conversation, sales, None, "test")
        assert dispatcher.dispatch_queue(own_tables, ws, sales) == 1
        resolved = apply_transition(
            own_tables,
            ws,
            result.conversation["conversation_id"],
            lambda before, _: transitions.resolve(before, "agent", clock.iso()),
        )
        assert resolved.before.assignee_id is not None
        counts[resolved.before.assignee_id] += 1
    # Then every agent got 142 or 143 of them, and everyone's load is back to zero
    assert sum(counts.values()) == 1000 and set(counts) == set(agents_)
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    for user_id in agents_:
        item = ddb.get(own_tables.workspaces, ws, f"AGENT#{user_id}")
        assert item is not None and item["open_count"] == 0


def test_least_busy_takes_load_and_waiting_time_into_account(
    stack: Any, team: Team, tables: Tables
) -> None:
    billing = team.department("Billing", "least_busy")
    for name in ("a", "b", "c"):
        team.agent(name, [billing], capacity=3)
    user = {team.members[n].user_id: n for n in ("a", "b", "c")}
    first = [hand_off(tables, team.ws, billing) for _ in range(3)]
    # Nobody had any: one each (ties go to who waited longest since an assignment)
    assert sorted(user[c["assignee_id"]] for c in first) == ["a", "b", "c"]
    # b is done with theirs: b has the fewest open conversations and gets the next one,
    # although round robin would have picked whoever was assigned longest ago
    holder_b = next(c for c in first if user[c["assignee_id"]] == "b")
    resolve(tables, team.ws, holder_b["conversation_id"])
    assert user[hand_off(tables, team.ws, billing)["assignee_id"]] == "b"
    # All at one again: the one who waited longest since an assignment is next (b was just
    # assigned, so the earliest of the other two)
    fourth = hand_off(tables, team.ws, billing)
    waited_longest = next(user[c["assignee_id"]] for c in first if user[c["assignee_id"]] != "b")
    assert user[fourth["assignee_id"]] == waited_longest


def test_only_online_agents_of_the_department_under_capacity(
    stack: Any, team: Team, tables: Tables, later: list[float]
) -> None:
    sales, support = team.department("Sales"), team.department("Support")
    team.agent("away", [sales], status="away")
    team.agent("elsewhere", [support])
    team.agent("full", [sales], capacity=1)
    team.agent("lapsing", [sales])
    full = team.members["full"].user_id
    taken = hand_off(tables, team.ws, sales)
    assert taken["assignee_id"] in {full, team.members["lapsing"].user_id}
    # "lapsing" stops sending heartbeats; "full" is at capacity: nobody may take the next
    later[0] = 120
    team.set_status("full", "online")
    if taken["assignee_id"] != full:
        hand_off(tables, team.ws, sales)
    waiting = hand_off(tables, team.ws, sales)
    assert waiting["assignee_id"] is None and waiting["queue_sk"]
    assert team.agent_item("full")["open_count"] == 1
    assert team.agent_item("away")["open_count"] == 0
    assert team.agent_item("elsewhere")["open_count"] == 0


# ---------------------------------------------------------------- the sweep


def test_sweep_flags_overdue_first_responses_once(
    stack: Any, team: Team, tables: Tables, sweeper: Any, later: list[float]
) -> None:
    sales = team.department("Sales", first_response_sla_seconds=120)
    waiting = hand_off(tables, team.ws, sales)  # nobody online: it waits
    assert waiting["first_response_due_at"] and not waiting.get("first_response_overdue")
    sweep(sweeper)
    assert not conversation_item(stack, team.ws, waiting["conversation_id"]).get(
        "first_response_overdue"
    )
    # Two minutes later the first response is overdue
    later[0] = 121
    assert sweep(sweeper)["flagged"] >= 1
    item = conversation_item(stack, team.ws, waiting["conversation_id"])
    assert item["first_response_overdue"] is True and "sla_pk" not in item
    listed = team.admin_inbox("list_conversations", query={"department_id": sales}).json
    assert listed["items"][0]["first_response_overdue"] is True
    # Flagged once: it left the deadline index
    assert sweep(sweeper)["flagged"] == 0 or item["first_response_overdue"]
    assert (
        assignment.overdue(tables.conversations, 0, clock.iso(), 1000).count(
            (team.ws, waiting["conversation_id"])
        )
        == 0
    )


def test_sweep_gives_back_conversations_of_agents_who_went_offline(
    stack: Any, team: Team, tables: Tables, sweeper: Any
) -> None:
    # Given Ann and Bob, one conversation each, and a third visitor waiting
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=1)
    bob = team.agent("bob", [sales], capacity=1)
    first, second = hand_off(tables, team.ws, sales), hand_off(tables, team.ws, sales)
    assert {first["assignee_id"], second["assignee_id"]} == {ann.user_id, bob.user_id}
    anns = first if first["assignee_id"] == ann.user_id else second
    bobs = second if anns is first else first
    third = hand_off(tables, team.ws, sales)
    assert third["assignee_id"] is None

    # When Ann goes offline and the sweep runs
    team.set_status("ann", "offline")
    report = sweep(sweeper)
    assert report["given_back"] >= 1
    # Then Ann's conversation is back in line ahead of the third (original arrival order)
    back = conversation_item(stack, team.ws, anns["conversation_id"])
    assert back["assignee_id"] is None and back["last_assignee_id"] == ann.user_id
    head = assignment.queue_head(tables.conversations, team.ws, sales, 10, None)
    assert [e["conversation_id"] for e in head] == [
        anns["conversation_id"],
        third["conversation_id"],
    ]
    assert team.agent_item("ann")["open_count"] == 0

    # When Bob resolves his, he gets Ann's old conversation first
    assert (
        team.inbox(
            "resolve", bob.token, path_params={"conversation_id": bobs["conversation_id"]}
        ).status
        == 200
    )
    assert conversation_item(stack, team.ws, anns["conversation_id"])["assignee_id"] == (
        bob.user_id
    )
    assert conversation_item(stack, team.ws, third["conversation_id"])["assignee_id"] is None


def test_sweep_assigns_waiting_queues_when_nothing_else_did(
    stack: Any, team: Team, tables: Tables, sweeper: Any
) -> None:
    # Given a waiting conversation and an agent whose presence changed without waking anyone
    sales = team.department("Sales")
    team.agent("ann", [sales], status="offline")
    waiting = hand_off(tables, team.ws, sales)
    assert waiting["assignee_id"] is None
    keep_online(team, stack, "ann")  # a direct write: no dispatch
    # When the sweep runs, the queue is served
    sweep(sweeper)
    assert conversation_item(stack, team.ws, waiting["conversation_id"])["assignee_id"] == (
        team.members["ann"].user_id
    )


def test_stream_handoffs_are_assigned_and_notified_once(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    sales = team.department("Sales")
    team.agent("ann", [sales], capacity=1)
    visitors = [team.visitor() for _ in range(3)]
    conversations_ = [v.start_conversation(f"visitor {i}") for i, v in enumerate(visitors)]
    for visitor, conversation_id in zip(visitors, conversations_, strict=True):
        assert ask_for_human(visitor, conversation_id).status == 202
    # One batch carries all three handoffs; delivered twice (at-least-once)
    records = tap.pending()
    for _ in range(2):
        result = events.lambda_handler({"Records": records}, LambdaContext())
        assert result == {"batchItemFailures": []}
    tap.deliver(events.lambda_handler)
    assigned = [conversation_item(stack, team.ws, c)["assignee_id"] for c in conversations_]
    assert assigned == [team.members["ann"].user_id, None, None]
    positions = [
        v.call("widget_list_conversations").json["items"][0]["queue_position"] for v in visitors
    ]
    assert positions == [None, 1, 2]
    notices = [
        [m["text"] for m in v.messages(c).json["items"] if m["sender_type"] == "system"]
        for v, c in zip(visitors, conversations_, strict=True)
    ]
    assert [len(n) for n in notices] == [0, 1, 1]
    assert "number 2 in line" in notices[2][0]
