"""Uniqueness and membership invariants under concurrency.

Each test runs two requests in threads and holds both at their write until both have done all
their reads: the interleaving that defeats check-then-write. The writes then run one at a
time (moto itself is not safe for concurrent transactions), as DynamoDB would serialize them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import (
    Org,
    agent_routing_client,
    stored,
    stored_with_prefix,
)
from tests.support import HttpHandlerClient, Response
from yoosr.store import ddb, keys


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture
def acme(routing: HttpHandlerClient) -> Org:
    org = Org(routing)
    org.admin("list_agents")  # registered before the race, so only the race writes
    org.agent("list_agents")
    return org


@pytest.fixture
def held_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The first two transactions wait for each other, then run one at a time."""
    real = ddb.transact
    barrier = threading.Barrier(2, timeout=3)
    lock = threading.Lock()
    calls = [0]

    def transact(actions: list[dict[str, Any]]) -> None:
        with lock:
            calls[0] += 1
            first_two = calls[0] <= 2
        if first_two:
            # A broken barrier means the other request never wrote: the assertions will tell.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        with lock:
            real(actions)

    monkeypatch.setattr(ddb, "transact", transact)
    yield calls


def race(*requests: Callable[[], Response]) -> list[Response]:
    results: list[Response | None] = [None] * len(requests)

    def run(index: int) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum needs one per thread
        results[index] = requests[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_two_creates_with_one_shortcut(stack: Any, acme: Org, held_writes: list[int]) -> None:
    body = {"title": "Refund", "content": "We refund."}
    results = race(
        lambda: acme.admin("create_canned", json_body={"shortcut": "refund", **body}),
        lambda: acme.admin("create_canned", json_body={"shortcut": "/Refund", **body}),
    )
    assert sorted(r.status for r in results) == [201, 409], [r.body for r in results]
    assert held_writes[0] == 2  # both requests reached their write: a real race
    winner = next(r for r in results if r.status == 201).json["id"]
    loser = next(r for r in results if r.status == 409)
    assert loser.error_code == "shortcut_taken"
    items = stored_with_prefix(stack, acme.workspace_id, "CANNED#")
    assert [i["canned_id"] for i in items] == [winner]
    marker = stored(stack, acme.workspace_id, "SHORTCUT#refund")
    assert marker is not None and marker["canned_id"] == winner


def test_two_labels_whose_names_differ_in_case(
    stack: Any, acme: Org, held_writes: list[int]
) -> None:
    results = race(
        lambda: acme.admin("create_label", json_body={"name": "Urgent"}),
        lambda: acme.admin("create_label", json_body={"name": "URGENT"}),
    )
    assert sorted(r.status for r in results) == [201, 409]
    assert held_writes[0] == 2
    assert len(stored_with_prefix(stack, acme.workspace_id, "LABEL#")) == 1


def test_two_renames_to_one_shortcut(stack: Any, acme: Org, held_writes: list[int]) -> None:
    ids = [
        acme.admin(
            "create_canned", json_body={"shortcut": name, "title": name, "content": name}
        ).json["id"]
        for name in ("a", "b")
    ]
    held_writes[0] = 0  # the setup's transactions do not count
    results = race(
        *[
            (
                lambda cid=cid: acme.admin(
                    "update_canned", path_params={"canned_id": cid}, json_body={"shortcut": "hello"}
                )
            )
            for cid in ids
        ]
    )
    assert sorted(r.status for r in results) == [200, 409]
    winner = next(r for r in results if r.status == 200).json["id"]
    loser = next(cid for cid in ids if cid != winner)
    marker = stored(stack, acme.workspace_id, "SHORTCUT#hello")
    assert marker is not None and marker["canned_id"] == winner
    # The loser keeps its own shortcut and marker.
    loser_item = stored(stack, acme.workspace_id, f"CANNED#{loser}")
    assert loser_item is not None
    kept = stored(stack, acme.workspace_id, f"SHORTCUT#{loser_item['shortcut']}")
    assert kept is not None and kept["canned_id"] == loser
    markers = stored_with_prefix(stack, acme.workspace_id, "SHORTCUT#")
    assert sorted(m["canned_id"] for m in markers) == sorted(ids)


def test_department_delete_racing_an_agent_joining(
    stack: Any, acme: Org, held_writes: list[int]
) -> None:
    ws = acme.workspace_id
    dept = acme.admin("create_department", json_body={"name": "Billing"}).json["id"]
    results = race(
        lambda: acme.admin("delete_department", path_params={"department_id": dept}),
        lambda: acme.admin(
            "update_agent",
            path_params={"user_id": acme.agent_id},
            json_body={"departments": [dept]},
        ),
    )
    deleted, joined = results
    assert held_writes[0] == 2
    # Never both: an agent in a department that no longer exists.
    assert (deleted.status, joined.status) in {(204, 422), (409, 200)}, (deleted.body, joined.body)
    department = stored(stack, ws, f"DEPT#{dept}")
    agent = stored(stack, *keys.agent(ws, acme.agent_id))
    assert agent is not None
    if department is None:
        assert agent["departments"] == []
    else:
        assert agent["departments"] == [dept] and department["member_count"] == 1
