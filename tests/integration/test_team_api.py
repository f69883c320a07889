"""Team API (departments, agents and presence, labels, canned responses) through the real
agent_routing handler with minted Clerk tokens: responses and what was stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import (
    Org,
    agent_routing_client,
    stored,
    stored_with_prefix,
)
from tests.support import HttpHandlerClient
from yoosr import clock, ids
from yoosr.store import ddb, keys

HOURS = {"timezone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]]}}


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture
def acme(routing: HttpHandlerClient) -> Org:
    return Org(routing)


@pytest.fixture
def frozen() -> Iterator[list[float]]:
    """A controllable yoosr.clock: now[0] is the current epoch second."""
    now = [float(clock.epoch())]
    clock.freeze(lambda: now[0])
    yield now
    clock.unfreeze()


def make_department(org: Org, name: str = "Billing", **extra: Any) -> str:
    response = org.admin("create_department", json_body={"name": name, **extra})
    assert response.status == 201, response.body
    return str(response.json["id"])


# ---------------------------------------------------------------- departments


def test_department_crud(stack: Any, acme: Org) -> None:
    ws = acme.workspace_id
    created = acme.admin(
        "create_department",
        json_body={
            "name": "  Billing   team ",
            "routing_strategy": "least_busy",
            "business_hours": HOURS,
            "first_response_sla_seconds": 300,
        },
    )
    assert created.status == 201, created.body
    body = created.json
    assert ids.id_pattern("dept").match(body["id"])
    assert body["name"] == "Billing team"
    assert body["routing_strategy"] == "least_busy"
    assert body["business_hours"]["timezone"] == "Europe/Berlin"
    assert body["member_count"] == 0
    item = stored(stack, ws, f"DEPT#{body['id']}")
    assert item is not None
    assert item["workspace_id"] == ws and item["name"] == "Billing team"
    assert item["first_response_sla_seconds"] == 300
    assert item["business_hours"]["weekly"] == {"mon": [["09:00", "17:00"]]}

    # Agents read departments; the list and the single read agree.
    path = {"department_id": body["id"]}
    assert acme.agent("get_department", path_params=path).json == body
    listed = acme.agent("list_departments")
    assert listed.status == 200 and listed.json == {"items": [body], "next_cursor": None}

    patched = acme.admin(
        "update_department", path_params=path, json_body={"name": "Billing", "business_hours": None}
    )
    assert patched.status == 200, patched.body
    assert patched.json["name"] == "Billing" and patched.json["business_hours"] is None
    assert patched.json["routing_strategy"] == "least_busy"  # untouched fields stay
    item = stored(stack, ws, f"DEPT#{body['id']}")
    assert item is not None and item["name"] == "Billing" and item["business_hours"] is None
    assert item["first_response_sla_seconds"] == 300

    deleted = acme.admin("delete_department", path_params=path)
    assert deleted.status == 204 and deleted.body == ""
    assert stored(stack, ws, f"DEPT#{body['id']}") is None
    assert acme.agent("get_department", path_params=path).status == 404
    assert acme.admin("delete_department", path_params=path).status == 404
    assert acme.admin("update_department", path_params=path, json_body={"name": "x"}).status == 404
    # The conditional update did not resurrect the deleted department.
    assert stored(stack, ws, f"DEPT#{body['id']}") is None


def test_department_delete_refused_while_agents_belong(stack: Any, acme: Org) -> None:
    ws = acme.workspace_id
    billing = make_department(acme)
    acme.agent("list_agents")  # the agent registers on a first call
    joined = acme.admin(
        "update_agent", path_params={"user_id": acme.agent_id}, json_body={"departments": [billing]}
    )
    assert joined.status == 200, joined.body
    item = stored(stack, ws, f"DEPT#{billing}")
    assert item is not None and item["member_count"] == 1

    refused = acme.admin("delete_department", path_params={"department_id": billing})
    assert refused.status == 409 and refused.error_code == "department_in_use"
    assert stored(stack, ws, f"DEPT#{billing}") is not None

    left = acme.admin(
        "update_agent", path_params={"user_id": acme.agent_id}, json_body={"departments": []}
    )
    assert left.status == 200 and left.json["departments"] == []
    item = stored(stack, ws, f"DEPT#{billing}")
    assert item is not None and item["member_count"] == 0
    assert acme.admin("delete_department", path_params={"department_id": billing}).status == 204


# ---------------------------------------------------------------- agents


def test_agents_register_on_first_call_with_defaults(stack: Any, acme: Org) -> None:
    assert acme.admin("list_agents").status == 200
    listed = acme.agent("list_agents")
    assert listed.status == 200
    by_id = {a["user_id"]: a for a in listed.json["items"]}
    assert set(by_id) == {acme.admin_id, acme.agent_id}
    agent = by_id[acme.agent_id]
    assert agent["role"] == "agent" and by_id[acme.admin_id]["role"] == "admin"
    assert agent["status"] == "offline" and agent["available"] is False
    assert agent["capacity"] == 5 and agent["open_count"] == 0 and agent["departments"] == []
    item = stored(stack, *keys.agent(acme.workspace_id, acme.agent_id))
    assert item is not None and item["item_type"] == "agent" and item["open_count"] == 0


def test_admin_sets_departments_and_capacity_without_touching_load(stack: Any, acme: Org) -> None:
    ws = acme.workspace_id
    sales, support = make_department(acme, "Sales"), make_department(acme, "Support")
    acme.agent("list_agents")
    # Given the assignment engine holds two conversations on the agent (it only ever ADDs)…
    ddb.update(
        stack.table("WorkspacesTable"),
        *keys.agent(ws, acme.agent_id),
        "ADD open_count :two",
        vals=ddb.values(two=2),
    )
    path = {"user_id": acme.agent_id}
    response = acme.admin(
        "update_agent",
        path_params=path,
        json_body={"departments": [sales, support, sales], "capacity": 8},
    )
    assert response.status == 200, response.body
    assert response.json["departments"] == [sales, support]  # duplicates dropped, order kept
    assert response.json["capacity"] == 8 and response.json["open_count"] == 2
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None
    assert item["departments"] == [sales, support] and item["capacity"] == 8
    assert item["open_count"] == 2 and item["team_version"] == 1
    assert item["role"] == "agent"

    moved = acme.admin("update_agent", path_params=path, json_body={"departments": [support]})
    assert moved.status == 200 and moved.json["capacity"] == 8
    lowered = acme.admin("update_agent", path_params=path, json_body={"capacity": 0})
    assert lowered.status == 200, lowered.body
    assert lowered.json["capacity"] == 0 and lowered.json["departments"] == [support]
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None and item["capacity"] == 0 and item["team_version"] == 3
    sales_item, support_item = (
        stored(stack, ws, f"DEPT#{sales}"),
        stored(stack, ws, f"DEPT#{support}"),
    )
    assert sales_item is not None and sales_item["member_count"] == 0
    assert support_item is not None and support_item["member_count"] == 1

    unknown = acme.admin(
        "update_agent", path_params=path, json_body={"departments": [support, ids.new_id("dept")]}
    )
    assert unknown.status == 422
    assert unknown.json["error"]["details"][0]["field"] == "departments"
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None and item["departments"] == [support] and item["open_count"] == 2


def test_presence_heartbeat_and_expiry(stack: Any, acme: Org, frozen: list[float]) -> None:
    ws = acme.workspace_id
    start = int(frozen[0])
    online = acme.agent("set_status", json_body={"status": "online"})
    assert online.status == 200, online.body
    assert online.json["status"] == "online" and online.json["available"] is True
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None
    assert item["status"] == "online" and item["presence_expires_at"] == start + 90
    assert item["last_heartbeat_at"] == clock.iso_from_epoch(start)

    def listed_status() -> str:
        agents = acme.admin("list_agents").json["items"]
        return str(next(a for a in agents if a["user_id"] == acme.agent_id)["status"])

    frozen[0] = start + 89
    assert listed_status() == "online"
    # When the dashboard stops sending heartbeats, the agent is offline with no write at all.
    frozen[0] = start + 90
    assert listed_status() == "offline"
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None and item["status"] == "online"  # stored as sent; read as offline

    # A heartbeat brings them back and pushes the expiry.
    back = acme.agent("set_status", json_body={"status": "online"})
    assert back.json["status"] == "online"
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None and item["presence_expires_at"] == start + 180

    away = acme.agent("set_status", json_body={"status": "away"})
    assert away.json["status"] == "away" and away.json["available"] is False
    off = acme.agent("set_status", json_body={"status": "offline"})
    assert off.json["status"] == "offline" and off.json["presence_expires_at"] is None
    item = stored(stack, *keys.agent(ws, acme.agent_id))
    assert item is not None and item["status"] == "offline" and item["presence_expires_at"] is None


def test_admin_status_is_their_own_presence(stack: Any, acme: Org) -> None:
    acme.agent("list_agents")
    response = acme.admin("set_status", json_body={"status": "away"})
    assert response.status == 200 and response.json["user_id"] == acme.admin_id
    agent = stored(stack, *keys.agent(acme.workspace_id, acme.agent_id))
    assert agent is not None and agent["status"] == "offline"


# ---------------------------------------------------------------- labels


def test_label_crud_with_case_insensitive_unique_names(stack: Any, acme: Org) -> None:
    ws = acme.workspace_id
    created = acme.admin("create_label", json_body={"name": "VIP", "color": "#f59e0b"})
    assert created.status == 201, created.body
    label = created.json
    assert label["color"] == "#F59E0B" and ids.id_pattern("label").match(label["id"])
    item = stored(stack, ws, f"LABEL#{label['id']}")
    assert item is not None and item["name"] == "VIP" and item["name_key"] == "vip"
    marker = stored(stack, ws, "LABELNAME#vip")
    assert marker is not None and marker["label_id"] == label["id"]

    taken = acme.admin("create_label", json_body={"name": "vip"})
    assert taken.status == 409 and taken.error_code == "label_name_taken"
    assert taken.json["error"]["details"][0]["field"] == "name"
    assert len(stored_with_prefix(stack, ws, "LABEL#")) == 1

    path = {"label_id": label["id"]}
    assert acme.agent("get_label", path_params=path).json == label
    # A change of case only keeps the marker.
    recased = acme.admin("update_label", path_params=path, json_body={"name": "Vip"})
    assert recased.status == 200 and recased.json["name"] == "Vip"
    assert stored(stack, ws, "LABELNAME#vip") is not None

    renamed = acme.admin("update_label", path_params=path, json_body={"name": "Priority"})
    assert renamed.status == 200 and renamed.json["color"] == "#F59E0B"
    assert stored(stack, ws, "LABELNAME#vip") is None
    marker = stored(stack, ws, "LABELNAME#priority")
    assert marker is not None and marker["label_id"] == label["id"]

    other = acme.admin("create_label", json_body={"name": "VIP"})  # the old name is free
    assert other.status == 201
    clash = acme.admin("update_label", path_params=path, json_body={"name": "vip"})
    assert clash.status == 409 and clash.error_code == "label_name_taken"
    item = stored(stack, ws, f"LABEL#{label['id']}")
    assert item is not None and item["name"] == "Priority"
    marker = stored(stack, ws, "LABELNAME#priority")
    assert marker is not None and marker["label_id"] == label["id"]

    assert acme.admin("delete_label", path_params=path).status == 204
    assert stored(stack, ws, f"LABEL#{label['id']}") is None
    assert stored(stack, ws, "LABELNAME#priority") is None
    assert acme.agent("get_label", path_params=path).status == 404
    assert acme.admin("create_label", json_body={"name": "priority"}).status == 201


# ---------------------------------------------------------------- canned responses


def test_canned_crud_and_shortcut_lookup(stack: Any, acme: Org) -> None:
    ws = acme.workspace_id
    created = acme.admin(
        "create_canned",
        json_body={
            "shortcut": "/Refund",
            "title": "Refund policy",
            "content": "Refunds take 5 days.",
        },
    )
    assert created.status == 201, created.body
    canned = created.json
    assert canned["shortcut"] == "refund"
    item = stored(stack, ws, f"CANNED#{canned['id']}")
    assert item is not None and item["content"] == "Refunds take 5 days."
    marker = stored(stack, ws, "SHORTCUT#refund")
    assert marker is not None and marker["canned_id"] == canned["id"]

    for asked in ("refund", "/refund", "REFUND"):
        found = acme.agent("list_canned", query={"shortcut": asked})
        assert found.status == 200 and found.json == {"items": [canned], "next_cursor": None}
    none = acme.agent("list_canned", query={"shortcut": "nope"})
    assert none.status == 200 and none.json == {"items": [], "next_cursor": None}

    acme.admin("create_canned", json_body={"shortcut": "refill", "title": "t", "content": "c"})
    acme.admin("create_canned", json_body={"shortcut": "hello", "title": "t", "content": "c"})
    prefixed = acme.agent("list_canned", query={"q": "/ref"})
    assert [c["shortcut"] for c in prefixed.json["items"]] == ["refill", "refund"]
    assert len(acme.agent("list_canned").json["items"]) == 3

    path = {"canned_id": canned["id"]}
    moved = acme.admin("update_canned", path_params=path, json_body={"shortcut": "money-back"})
    assert moved.status == 200 and moved.json["title"] == "Refund policy"
    assert stored(stack, ws, "SHORTCUT#refund") is None
    assert acme.agent("list_canned", query={"shortcut": "money-back"}).json["items"] == [moved.json]
    clash = acme.admin("update_canned", path_params=path, json_body={"shortcut": "hello"})
    assert clash.status == 409 and clash.error_code == "shortcut_taken"
    marker = stored(stack, ws, "SHORTCUT#money-back")
    assert marker is not None and marker["canned_id"] == canned["id"]

    assert acme.admin("delete_canned", path_params=path).status == 204
    assert stored(stack, ws, f"CANNED#{canned['id']}") is None
    assert stored(stack, ws, "SHORTCUT#money-back") is None
    assert acme.agent("get_canned", path_params=path).status == 404


# ---------------------------------------------------------------- pagination


def test_lists_paginate_with_opaque_cursors(acme: Org, routing: HttpHandlerClient) -> None:
    made = [
        acme.admin("create_label", json_body={"name": f"label {n}"}).json["id"] for n in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = acme.agent("list_labels", query=query)
        assert page.status == 200, page.body
        assert len(page.json["items"]) <= 2
        seen += [label["id"] for label in page.json["items"]]
        cursor = page.json["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(made) and len(set(seen)) == 5

    first = acme.agent("list_labels", query={"limit": "2"}).json["next_cursor"]
    # A cursor only works inside the workspace and the list it came from.
    globex = Org(routing, name="globex")
    assert globex.admin("list_labels", query={"cursor": first}).error_code == "invalid_cursor"
    assert acme.agent("list_departments", query={"cursor": first}).error_code == "invalid_cursor"
    for bad in ("!!!", "e30", first[:-3]):
        response = acme.agent("list_labels", query={"cursor": bad})
        assert response.status == 400 and response.error_code == "invalid_cursor"
    for limit in ("0", "201", "x"):
        assert acme.agent("list_labels", query={"limit": limit}).status == 400
    assert len(acme.agent("list_labels", query={"limit": "200"}).json["items"]) == 5


def test_labels_found_names_only_this_workspaces_labels(
    stack: Any, acme: Org, routing: HttpHandlerClient
) -> None:
    from yoosr.store import team

    mine = acme.admin("create_label", json_body={"name": "Mine"}).json["id"]
    theirs = Org(routing).admin("create_label", json_body={"name": "Theirs"}).json["id"]
    table = stack.table("WorkspacesTable")
    found = team.labels_found(table, acme.workspace_id, [mine, theirs, mine, ids.new_id("label")])
    assert found == {mine}
    assert team.labels_found(table, acme.workspace_id, []) == set()
