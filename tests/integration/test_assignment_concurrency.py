"""The concurrency proof, against a moto *server* (requests from many threads, each one atomic
as in DynamoDB; in-process moto is not safe for concurrent conditional writes).

200 visitors ask for a human at the same moment; each handoff is followed by a dispatch, as
the stream consumer does. The department has 5 online agents of capacity 3.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config

from local.moto_server import MotoServer
from local.resources import create_resources
from local.template import load_template
from tests.integration.routing_support import put_department, put_online_agent
from tests.support import ROOT
from yoosr import clock, ids
from yoosr.routing import dispatcher, handoff, transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import assignment, aws, conversations, ddb, keys
from yoosr.store.assignment import Tables

HANDOFFS = 200
AGENTS = 5
CAPACITY = 3
T = TypeVar("T")


@pytest.fixture(scope="module")
def server_tables() -> Iterator[Tables]:
    """A moto server of its own, with the template's tables, and yoosr's DynamoDB client
    pointed at it (the rest of the session keeps using in-process moto)."""
    server = MotoServer()
    # The stack's own moto server: one request at a time, local/moto_fixes.py applied.
    server.start()
    try:
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        resources = create_resources(
            load_template(ROOT / "template.yaml"),
            session,
            "yoosr-race",
            endpoint_url=server.endpoint_url,
        )
        client = session.client(
            "dynamodb",
            endpoint_url=server.endpoint_url,
            # 200 threads share one serialized server: a request may queue a while.
            config=Config(
                max_pool_connections=HANDOFFS + 10,
                read_timeout=300,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )
        original = aws.client
        aws.client = lambda service: client if service == "dynamodb" else original(service)  # type: ignore[assignment]
        try:
            yield Tables(resources.ref("WorkspacesTable"), resources.ref("ConversationsTable"))
        finally:
            aws.client = original  # type: ignore[method-assign]
    finally:
        server.stop()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def hand_off(tables: Tables, ws: str, conversation: dict[str, Any]) -> str:
    """The widget's handoff, then what the stream consumer does with its queue entry."""
    result = handoff.request_human(tables, ws, conversation, None, None, "visitor")
    dispatcher.dispatch_queue(
        tables, ws, assignment.queue_key_of(result.conversation["department_id"])
    )
    return str(result.conversation["arrival_id"])


def resolve(tables: Tables, ws: str, conversation_id: str, holder: str) -> int:
    """An agent resolves; the API then dispatches the agent's departments."""
    now = clock.iso()
    apply_transition(
        tables, ws, conversation_id, lambda before, _: transitions.resolve(before, holder, now)
    )
    agent = assignment.agent(tables.workspaces, ws, holder)
    return dispatcher.dispatch(tables, ws, list((agent or {}).get("departments") or []))


def held(tables: Tables, ws: str, ids_: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for start in range(0, len(ids_), 100):
        chunk = ids_[start : start + 100]
        found = ddb.batch_get({tables.conversations: [keys.conversation(ws, c) for c in chunk]})
        for item in found.values():
            out[item["conversation_id"]] = item.get("assignee_id")
    return out


def test_200_simultaneous_handoffs_into_15_slots(server_tables: Tables) -> None:
    tables = server_tables
    ws = ids.workspace_id_for_org(f"org_race_{ids.ulid()}")
    department_id = ids.new_id("dept")
    ddb.put(
        tables.workspaces,
        {
            "pk": ws,
            "sk": keys.workspace(ws)[1],
            "item_type": "workspace",
            "workspace_id": ws,
            "name": "Race",
            "status": "active",
            "settings": {},
        },
    )
    put_department(tables.workspaces, ws, department_id)
    agents = [f"user_race{i}" for i in range(AGENTS)]
    for user_id in agents:
        put_online_agent(tables.workspaces, ws, user_id, [department_id], CAPACITY)
    waiting = []
    for _ in range(HANDOFFS):
        item = conversations.conversation_item(
            ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
        )
        ddb.put(tables.conversations, item)
        waiting.append(item)

    # When 200 visitors ask for a human at once (each followed by its dispatch)
    arrivals = at_once([lambda c=c: hand_off(tables, ws, c) for c in waiting])
    assert len(set(arrivals)) == HANDOFFS

    # Then exactly 15 are assigned, 3 per agent, and nobody is above capacity
    conversation_ids = [c["conversation_id"] for c in waiting]
    holders = held(tables, ws, conversation_ids)
    assigned = {c: h for c, h in holders.items() if h}
    assert len(assigned) == AGENTS * CAPACITY
    assert Counter(assigned.values()) == {user_id: CAPACITY for user_id in agents}
    loads = {u: assignment.agent(tables.workspaces, ws, u)["open_count"] for u in agents}  # type: ignore[index]
    assert loads == {user_id: CAPACITY for user_id in agents}

    # And the other 185 wait, in arrival order, each once, positions 1..185
    queue = assignment.queue_head(tables.conversations, ws, department_id, 1000, None)
    assert len(queue) == HANDOFFS - AGENTS * CAPACITY
    assert [e["sk"] for e in queue] == sorted(e["sk"] for e in queue)
    queued_ids = [e["conversation_id"] for e in queue]
    assert set(queued_ids) == set(conversation_ids) - set(assigned)
    by_id = {c["conversation_id"]: c for c in waiting}
    for position in (1, 2, 100, len(queue)):
        entry = queue[position - 1]
        assert (
            assignment.queue_position(tables.conversations, ws, department_id, entry["sk"])
            == position
        )
        assert by_id[entry["conversation_id"]]

    # When 5 conversations are resolved at once (one per agent)
    first_of = {}
    for conversation_id, holder in assigned.items():
        first_of.setdefault(holder, conversation_id)
    at_once([lambda c=c, h=h: resolve(tables, ws, c, h) for h, c in first_of.items()])

    # Then exactly the next 5 in line are assigned, and everyone is back at capacity
    next_five = queued_ids[:5]
    holders = held(tables, ws, conversation_ids)
    assert all(holders[c] for c in next_five)
    newly = {c for c, h in holders.items() if h} - set(assigned)
    assert newly == set(next_five)
    assert sum(1 for h in holders.values() if h) == AGENTS * CAPACITY
    loads = {u: assignment.agent(tables.workspaces, ws, u)["open_count"] for u in agents}  # type: ignore[index]
    assert loads == {user_id: CAPACITY for user_id in agents}
    rest = assignment.queue_head(tables.conversations, ws, department_id, 1000, None)
    assert [e["conversation_id"] for e in rest] == queued_ids[5:]
