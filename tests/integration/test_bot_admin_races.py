"""Bot config invariants under concurrency: the greeting flow, flow versions and the caps.

Each test runs two requests in threads and holds both at their write until both have done all
their reads (the interleaving that defeats check-then-write); the writes then run one at a time,
as DynamoDB serializes them (moto itself is not safe for concurrent transactions).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.bot_admin_support import (
    KNOWLEDGE,
    BotOrg,
    bot_client,
    config_item,
    flow_items,
    knowledge_items,
)
from tests.support import HttpHandlerClient, Response
from yoosr.store import ddb


def small_flow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "start_step": "hi",
        "steps": [{"id": "hi", "type": "close", "message": f"Bye from {name}."}],
    }


@pytest.fixture(scope="module")
def client(stack: Any) -> HttpHandlerClient:
    return bot_client(stack)


@pytest.fixture
def acme(client: HttpHandlerClient) -> BotOrg:
    org = BotOrg(client)
    org.admin("list_flows")  # provisioned and registered before the race
    return org


@pytest.fixture
def hold_writes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[int]]:
    """Called once the test's setup is done: from then on the first two transactions wait
    for each other, then run one at a time. Returns the count of transactions."""

    def install() -> list[int]:
        real = ddb.transact
        barrier = threading.Barrier(2, timeout=3)
        lock = threading.Lock()
        calls = [0]

        def transact(actions: list[dict[str, Any]]) -> None:
            with lock:
                calls[0] += 1
                first_two = calls[0] <= 2
            if first_two:
                # A broken barrier means the other request never wrote: the asserts tell.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            with lock:
                real(actions)

        monkeypatch.setattr(ddb, "transact", transact)
        return calls

    return install


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


def test_two_first_flows_at_once_make_one_greeting_flow(
    stack: Any, acme: BotOrg, hold_writes: Callable[[], list[int]]
) -> None:
    # Both requests read a workspace without flows: each would make its flow the greeting
    held_writes = hold_writes()
    results = race(
        lambda: acme.admin("create_flow", json_body=small_flow("one")),
        lambda: acme.admin("create_flow", json_body=small_flow("two")),
    )
    assert [r.status for r in results] == [201, 201], [r.body for r in results]
    assert held_writes[0] == 3  # both wrote at once; the loser decided again and wrote
    assert sorted(r.json["active"] for r in results) == [False, True]
    winner = next(r.json["id"] for r in results if r.json["active"])
    config = config_item(stack, acme.workspace_id)
    assert config is not None
    assert config["greeting_flow_id"] == winner
    assert (config["flow_count"], config["flows_version"]) == (2, 2)
    assert len(flow_items(stack, acme.workspace_id)) == 2


def test_two_saves_of_one_version_keep_one(
    stack: Any, acme: BotOrg, hold_writes: Callable[[], list[int]]
) -> None:
    flow_id = acme.create_flow(small_flow("base"))["id"]
    held_writes = hold_writes()
    path = {"flow_id": flow_id}
    results = race(
        lambda: acme.admin(
            "replace_flow", path_params=path, json_body={**small_flow("alice"), "version": 1}
        ),
        lambda: acme.admin(
            "replace_flow", path_params=path, json_body={**small_flow("bob"), "version": 1}
        ),
    )
    assert sorted(r.status for r in results) == [200, 409], [r.body for r in results]
    winner = next(r for r in results if r.status == 200).json
    loser = next(r for r in results if r.status == 409)
    assert loser.error_code == "version_conflict"
    assert held_writes[0] == 2  # both wrote at once, against the same version
    (item,) = flow_items(stack, acme.workspace_id)
    assert item["version"] == 2 == winner["version"]
    assert item["name"] == winner["name"]


def test_two_saves_without_a_version_both_land_in_turn(
    stack: Any, acme: BotOrg, hold_writes: Callable[[], list[int]]
) -> None:
    flow_id = acme.create_flow(small_flow("base"))["id"]
    held_writes = hold_writes()
    path = {"flow_id": flow_id}
    results = race(
        lambda: acme.admin("replace_flow", path_params=path, json_body=small_flow("alice")),
        lambda: acme.admin("replace_flow", path_params=path, json_body=small_flow("bob")),
    )
    assert [r.status for r in results] == [200, 200], [r.body for r in results]
    assert sorted(r.json["version"] for r in results) == [2, 3]
    assert held_writes[0] == 3  # the loser read the new version and saved again
    last = next(r.json for r in results if r.json["version"] == 3)
    (item,) = flow_items(stack, acme.workspace_id)
    assert (item["version"], item["name"]) == (3, last["name"])
    config = config_item(stack, acme.workspace_id)
    assert config is not None and config["flows_version"] == 3


def test_two_entries_at_the_cap_keep_the_cap(
    stack: Any, acme: BotOrg, hold_writes: Callable[[], list[int]]
) -> None:
    acme.create_entry(KNOWLEDGE[0])
    ddb.update(
        stack.table("WorkspacesTable"),
        acme.workspace_id,
        "BOT",
        "SET knowledge_count = :n",
        vals=ddb.values(n=499),
    )
    held_writes = hold_writes()
    results = race(
        lambda: acme.admin("create_knowledge", json_body=KNOWLEDGE[1]),
        lambda: acme.admin("create_knowledge", json_body=KNOWLEDGE[2]),
    )
    assert sorted(r.status for r in results) == [201, 409], [r.body for r in results]
    assert next(r for r in results if r.status == 409).error_code == "knowledge_limit"
    assert held_writes[0] == 2
    assert len(knowledge_items(stack, acme.workspace_id)) == 2
    config = config_item(stack, acme.workspace_id)
    assert config is not None and config["knowledge_count"] == 500
