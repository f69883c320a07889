"""Bot admin API (flows, knowledge base, preview) through the real bot_reply handler with
minted Clerk tokens: responses and what was stored, including the bot config the reply
consumer reads (yoosr.store.bot)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.bot_admin_support import (
    DEMO_FLOW,
    KNOWLEDGE,
    SHOP_ORIGIN,
    WRITE_OPERATIONS,
    BotOrg,
    Recorder,
    bot_client,
    config_item,
    flow_items,
    knowledge_items,
    record_dynamodb,
)
from tests.integration.dashboard_support import stored
from tests.support import HttpHandlerClient
from yoosr import clock, ids
from yoosr.bot.flows import validate_flow
from yoosr.bot.knowledge import KnowledgeEntry
from yoosr.store import bot as bot_store
from yoosr.store import ddb, workspaces

FLOW_ID = ids.id_pattern("flow")
ENTRY_ID = ids.id_pattern("kb")


@pytest.fixture(scope="module")
def client(stack: Any) -> HttpHandlerClient:
    return bot_client(stack)


@pytest.fixture
def acme(client: HttpHandlerClient) -> BotOrg:
    return BotOrg(client)


@pytest.fixture
def recorded() -> Iterator[Recorder]:
    yield from record_dynamodb()


def small_flow(name: str = "Small", text: str = "Hello there.") -> dict[str, Any]:
    return {
        "name": name,
        "start_step": "hi",
        "steps": [
            {"id": "hi", "type": "message", "text": text, "next": "bye"},
            {"id": "bye", "type": "close", "message": "Bye!"},
        ],
    }


def table(stack: Any) -> str:
    return stack.table("WorkspacesTable")


# ---------------------------------------------------------------- flows


def test_flow_crud_stores_the_definition_and_bumps_the_config(stack: Any, acme: BotOrg) -> None:
    ws = acme.workspace_id
    # Given a workspace without any flow, when an admin saves the demo flow
    created = acme.admin("create_flow", json_body=DEMO_FLOW)

    # Then it gets a server id, version 1, and (the first flow) greets new conversations
    assert created.status == 201, created.body
    body = created.json
    assert FLOW_ID.match(body["id"])
    assert body["version"] == 1 and body["active"] is True
    assert body["name"] == "Welcome" and body["start_step"] == "greet"
    assert [s["id"] for s in body["steps"]] == [s["id"] for s in DEMO_FLOW["steps"]]
    condition = next(s for s in body["steps"] if s["id"] == "sales_open")
    assert condition["else"] == "offline"  # the alias, not the Python name
    flow_id = body["id"]

    # And the flow item and the config hold exactly what the consumer reads
    item = stored(stack, ws, f"FLOW#{flow_id}")
    assert item is not None
    assert item["name"] == "Welcome" and item["version"] == 1 and item["step_count"] == 10
    assert item["created_at"] == item["updated_at"] == body["created_at"]
    definition = json.loads(item["definition"])
    expected = validate_flow({**DEMO_FLOW, "id": flow_id, "version": 1})
    assert validate_flow(definition) == expected
    assert bot_store.get_flow(table(stack), ws, flow_id) == expected
    config = config_item(stack, ws)
    assert config is not None
    assert config["greeting_flow_id"] == flow_id
    assert (config["flows_version"], config["flow_count"]) == (1, 1)
    assert (config["knowledge_version"], config["knowledge_count"]) == (0, 0)
    assert bot_store.get_config(table(stack), ws) == bot_store.BotConfig(flow_id, 1, 0)

    # The single read and the list agree with what was created
    path = {"flow_id": flow_id}
    assert acme.admin("get_flow", path_params=path).json == body
    listed = acme.admin("list_flows").json
    assert listed == {
        "items": [
            {
                "id": flow_id,
                "name": "Welcome",
                "version": 1,
                "active": True,
                "step_count": 10,
                "created_at": body["created_at"],
                "updated_at": body["updated_at"],
            }
        ],
        "next_cursor": None,
    }

    # When the admin replaces it, naming the version they edited
    edited = {**small_flow("Welcome v2"), "version": 1}
    replaced = acme.admin("replace_flow", path_params=path, json_body=edited)
    assert replaced.status == 200, replaced.body
    assert replaced.json["version"] == 2 and replaced.json["name"] == "Welcome v2"
    assert replaced.json["active"] is True  # still the greeting flow
    assert replaced.json["created_at"] == body["created_at"]
    item = stored(stack, ws, f"FLOW#{flow_id}")
    assert item is not None and item["version"] == 2 and item["step_count"] == 2
    assert json.loads(item["definition"])["version"] == 2
    assert json.loads(item["definition"])["steps"][0]["text"] == "Hello there."
    config = config_item(stack, ws)
    assert config is not None and config["flows_version"] == 2 and config["flow_count"] == 1

    # A save based on the old version is refused and changes nothing
    stale = acme.admin(
        "replace_flow", path_params=path, json_body={**small_flow("Old"), "version": 1}
    )
    assert stale.status == 409 and stale.error_code == "version_conflict", stale.body
    assert stale.json["error"]["details"] == [
        {"field": "version", "message": "the flow is at version 2"}
    ]
    item = stored(stack, ws, f"FLOW#{flow_id}")
    assert item is not None and item["version"] == 2 and item["name"] == "Welcome v2"
    assert config_item(stack, ws) == config

    # Without an expected version the last save wins (version 3), and `id` may be echoed back
    again = acme.admin(
        "replace_flow", path_params=path, json_body={**small_flow("v3"), "id": flow_id}
    )
    assert again.status == 200 and again.json["version"] == 3, again.body

    # Delete: gone, uncounted, and no longer the greeting flow
    deleted = acme.admin("delete_flow", path_params=path)
    assert deleted.status == 204 and deleted.body == ""
    assert stored(stack, ws, f"FLOW#{flow_id}") is None
    config = config_item(stack, ws)
    assert config is not None
    assert config["greeting_flow_id"] is None
    assert (config["flows_version"], config["flow_count"]) == (4, 0)
    assert acme.admin("get_flow", path_params=path).status == 404
    assert acme.admin("delete_flow", path_params=path).status == 404
    assert acme.admin("replace_flow", path_params=path, json_body=small_flow()).status == 404
    # The refused save did not resurrect the flow
    assert stored(stack, ws, f"FLOW#{flow_id}") is None
    assert config_item(stack, ws) == config


def test_the_greeting_flow_is_chosen_by_active(stack: Any, acme: BotOrg) -> None:
    ws = acme.workspace_id

    def greeting() -> str | None:
        return bot_store.get_config(table(stack), ws).greeting_flow_id

    def actives() -> dict[str, bool]:
        return {f["id"]: f["active"] for f in acme.admin("list_flows").json["items"]}

    # The first flow greets; later flows do not go live on their own
    first = acme.create_flow(small_flow("first"))["id"]
    second = acme.create_flow(small_flow("second"))
    assert second["active"] is False
    assert greeting() == first
    assert actives() == {first: True, second["id"]: False}

    # active: true on create takes over
    third = acme.create_flow(small_flow("third"), active=True)
    assert third["active"] is True and greeting() == third["id"]
    assert actives() == {first: False, second["id"]: False, third["id"]: True}

    # active: true on PUT takes over; the previous greeting flow reports inactive
    put = acme.admin(
        "replace_flow",
        path_params={"flow_id": second["id"]},
        json_body={**small_flow("second"), "active": True},
    )
    assert put.status == 200 and put.json["active"] is True
    assert greeting() == second["id"]
    third_now = acme.admin("get_flow", path_params={"flow_id": third["id"]}).json
    assert third_now["active"] is False

    # active: false on a flow that is not the greeting changes nothing
    acme.admin(
        "replace_flow",
        path_params={"flow_id": first},
        json_body={**small_flow("first"), "active": False},
    )
    assert greeting() == second["id"]

    # active: false on the greeting flow leaves the workspace without one
    off = acme.admin(
        "replace_flow",
        path_params={"flow_id": second["id"]},
        json_body={**small_flow("second"), "active": False},
    )
    assert off.status == 200 and off.json["active"] is False
    assert greeting() is None

    # A new flow does not become the greeting while others exist
    acme.create_flow(small_flow("fourth"))
    assert greeting() is None

    # Deleting the greeting flow clears it (no other flow goes live)
    acme.admin(
        "replace_flow",
        path_params={"flow_id": first},
        json_body={**small_flow("first"), "active": True},
    )
    assert greeting() == first
    assert acme.admin("delete_flow", path_params={"flow_id": first}).status == 204
    assert greeting() is None
    assert not any(actives().values())
    config = config_item(stack, ws)
    assert config is not None and config["flow_count"] == 3


def test_a_first_flow_saved_inactive_does_not_greet(stack: Any, acme: BotOrg) -> None:
    created = acme.create_flow(small_flow(), active=False)
    assert created["active"] is False
    assert bot_store.get_config(table(stack), acme.workspace_id).greeting_flow_id is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda f: f["steps"][0].update(next="nowhere"),
            "steps[0].next",
            "step 'greet': next points to unknown step 'nowhere'",
        ),
        (
            lambda f: f["steps"][1].update(type="carousel"),
            "steps[1].type",
            "step 'menu': unknown step type",
        ),
        (
            lambda f: f["steps"].append(
                {"id": "orphan", "type": "close", "message": "Never reached."}
            ),
            "steps[10]",
            "step 'orphan'",
        ),
        (
            lambda f: f["steps"][8].update(on_no_answer="greet"),
            "steps[8].on_no_answer",
            "step 'ask': on_no_answer must be a handoff step",
        ),
    ],
    ids=["missing_target", "unknown_type", "unreachable", "on_no_answer_not_handoff"],
)
def test_an_invalid_flow_is_422_naming_the_step_and_stores_nothing(
    stack: Any, acme: BotOrg, change: Any, field: str, words: str
) -> None:
    body = json.loads(json.dumps(DEMO_FLOW))
    change(body)
    response = acme.admin("create_flow", json_body=body)
    assert response.status == 422, response.body
    assert response.error_code == "validation_failed"
    details = response.json["error"]["details"]
    assert any(d["field"].startswith(field) and words in d["message"] for d in details), details
    assert flow_items(stack, acme.workspace_id) == []
    assert config_item(stack, acme.workspace_id) is None


def test_a_flow_that_loops_without_exit_is_refused(stack: Any, acme: BotOrg) -> None:
    body = {
        "name": "Loop",
        "start_step": "a",
        "steps": [
            {
                "id": "a",
                "type": "buttons",
                "text": "Pick",
                "options": [{"label": "x", "next": "b"}],
            },
            {"id": "b", "type": "message", "text": "Again", "next": "a"},
        ],
    }
    response = acme.admin("create_flow", json_body=body)
    assert response.status == 422, response.body
    messages = " ".join(d["message"] for d in response.json["error"]["details"])
    assert "step 'a'" in messages
    assert flow_items(stack, acme.workspace_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DEMO_FLOW, "id": "flow_mine"}, "id"),
        ({**DEMO_FLOW, "version": 3}, "version"),
        ({**DEMO_FLOW, "active": "yes"}, "active"),
        ({**DEMO_FLOW, "colour": "red"}, "colour"),
        ({k: v for k, v in DEMO_FLOW.items() if k != "name"}, "name"),
        ({**DEMO_FLOW, "steps": []}, "steps"),
    ],
    ids=["id", "version", "active", "unknown_field", "no_name", "no_steps"],
)
def test_bad_flow_fields_are_422_naming_them(
    stack: Any, acme: BotOrg, body: dict[str, Any], field: str
) -> None:
    response = acme.admin("create_flow", json_body=body)
    assert response.status == 422, response.body
    assert field in {d["field"] for d in response.json["error"]["details"]}, response.body
    assert flow_items(stack, acme.workspace_id) == []


def test_bad_put_fields_are_422_and_change_nothing(stack: Any, acme: BotOrg) -> None:
    flow_id = acme.create_flow(small_flow())["id"]
    before = stored(stack, acme.workspace_id, f"FLOW#{flow_id}")
    path = {"flow_id": flow_id}
    for body, field in (
        ({**small_flow(), "id": "flow_01JDQ4ZV7W3X9Y8Z6A5B4C3D2E"}, "id"),
        ({**small_flow(), "version": 0}, "version"),
        ({**small_flow(), "version": "1"}, "version"),
        ({**small_flow(), "version": True}, "version"),
        ({**small_flow(), "start_step": "nope"}, "start_step"),
    ):
        response = acme.admin("replace_flow", path_params=path, json_body=body)
        assert response.status == 422, (body, response.body)
        assert field in {d["field"] for d in response.json["error"]["details"]}
    assert stored(stack, acme.workspace_id, f"FLOW#{flow_id}") == before


def test_flows_are_capped_per_workspace(stack: Any, acme: BotOrg) -> None:
    ws = acme.workspace_id
    made = [acme.create_flow(small_flow(f"flow {n}"))["id"] for n in range(20)]
    refused = acme.admin("create_flow", json_body=small_flow("one too many"))
    assert refused.status == 409 and refused.error_code == "flow_limit", refused.body
    assert len(flow_items(stack, ws)) == 20
    config = config_item(stack, ws)
    assert config is not None and config["flow_count"] == 20 and config["flows_version"] == 20
    # Deleting one makes room again
    assert acme.admin("delete_flow", path_params={"flow_id": made[5]}).status == 204
    assert acme.admin("create_flow", json_body=small_flow("room again")).status == 201
    config = config_item(stack, ws)
    assert config is not None and config["flow_count"] == 20


def test_a_large_flow_fits_and_a_larger_body_is_413(stack: Any, acme: BotOrg) -> None:
    # 200 steps of ~1,100 characters: about 230 KB, under the 256 KiB body limit
    steps = [
        {"id": f"s{n}", "type": "message", "text": f"{n} " + "x" * 1100, "next": f"s{n + 1}"}
        for n in range(199)
    ]
    steps.append({"id": "s199", "type": "close", "message": "Bye."})
    big = {"name": "Big", "start_step": "s0", "steps": steps}
    assert 200_000 < len(json.dumps(big)) < 262_144
    created = acme.admin("create_flow", json_body=big)
    assert created.status == 201, created.body[:300]
    flow = bot_store.get_flow(table(stack), acme.workspace_id, created.json["id"])
    assert flow is not None and len(flow.steps) == 200

    steps[0]["text"] = "y" * 2000
    bigger = {**big, "steps": [*steps, {"id": "pad", "type": "close", "message": "z" * 40_000}]}
    too_large = acme.admin("create_flow", json_body=bigger)
    assert too_large.status == 413 and too_large.error_code == "payload_too_large"
    assert len(flow_items(stack, acme.workspace_id)) == 1


def test_flow_lists_paginate(stack: Any, acme: BotOrg) -> None:
    made = [acme.create_flow(small_flow(f"f{n}"))["id"] for n in range(3)]
    first = acme.admin("list_flows", query={"limit": "2"})
    assert first.status == 200
    assert [f["id"] for f in first.json["items"]] == made[:2]
    assert first.json["next_cursor"]
    second = acme.admin("list_flows", query={"limit": "2", "cursor": first.json["next_cursor"]})
    assert [f["id"] for f in second.json["items"]] == made[2:]
    assert second.json["next_cursor"] is None


# ---------------------------------------------------------------- knowledge


def test_knowledge_crud_stores_entries_and_bumps_the_version(stack: Any, acme: BotOrg) -> None:
    ws = acme.workspace_id
    created = acme.admin(
        "create_knowledge",
        json_body={
            "title": "  Shipping   to Norway ",
            "content": "We ship to **Norway** in 3-5 days.\n\nSee our terms.",
            "tags": ["delivery", "Delivery", "abroad"],
        },
    )
    assert created.status == 201, created.body
    body = created.json
    assert ENTRY_ID.match(body["id"])
    assert body["title"] == "Shipping to Norway"
    assert body["content"] == "We ship to **Norway** in 3-5 days.\n\nSee our terms."
    assert body["tags"] == ["delivery", "abroad"]
    entry_id = body["id"]
    item = stored(stack, ws, f"KB#{entry_id}")
    assert item is not None
    assert (item["title"], item["content"], item["tags"]) == (
        body["title"],
        body["content"],
        ["delivery", "abroad"],
    )
    assert item["created_at"] == item["updated_at"] == body["created_at"]
    config = config_item(stack, ws)
    assert config is not None
    assert (config["knowledge_version"], config["knowledge_count"]) == (1, 1)
    # A knowledge write leaves the flow attributes complete and untouched
    assert config["greeting_flow_id"] is None
    assert (config["flows_version"], config["flow_count"]) == (0, 0)
    assert bot_store.list_knowledge(table(stack), ws) == [
        KnowledgeEntry(
            id=entry_id,
            title="Shipping to Norway",
            content=body["content"],
            tags=("delivery", "abroad"),
        )
    ]

    path = {"entry_id": entry_id}
    assert acme.admin("get_knowledge", path_params=path).json == body
    assert acme.admin("list_knowledge").json == {"items": [body], "next_cursor": None}

    replaced = acme.admin(
        "replace_knowledge", path_params=path, json_body={"title": "Norway", "content": "Yes."}
    )
    assert replaced.status == 200, replaced.body
    assert replaced.json["tags"] == [] and replaced.json["created_at"] == body["created_at"]
    item = stored(stack, ws, f"KB#{entry_id}")
    assert item is not None and (item["title"], item["content"], item["tags"]) == (
        "Norway",
        "Yes.",
        [],
    )
    config = config_item(stack, ws)
    assert config is not None
    assert (config["knowledge_version"], config["knowledge_count"]) == (2, 1)

    assert acme.admin("delete_knowledge", path_params=path).status == 204
    assert stored(stack, ws, f"KB#{entry_id}") is None
    config = config_item(stack, ws)
    assert config is not None
    assert (config["knowledge_version"], config["knowledge_count"]) == (3, 0)
    assert acme.admin("get_knowledge", path_params=path).status == 404
    assert acme.admin("delete_knowledge", path_params=path).status == 404
    gone = acme.admin(
        "replace_knowledge", path_params=path, json_body={"title": "a", "content": "b"}
    )
    assert gone.status == 404
    assert stored(stack, ws, f"KB#{entry_id}") is None
    assert config_item(stack, ws) == config


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 201, "content": "ok"}, "title"),
        ({"title": "   ", "content": "ok"}, "title"),
        ({"title": "ok", "content": "x" * 8001}, "content"),
        ({"title": "ok", "content": ""}, "content"),
        ({"title": "ok", "content": "ok", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "ok", "content": "ok", "tags": ["x" * 41]}, "tags.0"),
        ({"title": "ok", "content": "ok", "tags": "delivery"}, "tags"),
        ({"title": "ok", "content": "ok", "id": "kb_mine"}, "id"),
        ({"content": "ok"}, "title"),
    ],
    ids=[
        "long_title",
        "blank_title",
        "long_content",
        "empty_content",
        "many_tags",
        "long_tag",
        "tags_not_list",
        "id",
        "no_title",
    ],
)
def test_bad_knowledge_entries_are_422_naming_the_field(
    stack: Any, acme: BotOrg, body: dict[str, Any], field: str
) -> None:
    response = acme.admin("create_knowledge", json_body=body)
    assert response.status == 422, response.body
    assert field in {d["field"] for d in response.json["error"]["details"]}, response.body
    assert knowledge_items(stack, acme.workspace_id) == []


def test_the_largest_entry_is_accepted(stack: Any, acme: BotOrg) -> None:
    body = {"title": "t" * 200, "content": "c" * 8000, "tags": [f"tag{n}" for n in range(20)]}
    created = acme.create_entry(body)
    assert len(created["content"]) == 8000 and len(created["tags"]) == 20
    assert len(bot_store.list_knowledge(table(stack), acme.workspace_id)) == 1


def test_knowledge_entries_are_capped_per_workspace(stack: Any, acme: BotOrg) -> None:
    ws = acme.workspace_id
    acme.create_entry(KNOWLEDGE[0])
    # Given a workspace one entry below the cap (the count is what the condition checks)
    ddb.update(table(stack), ws, "BOT", "SET knowledge_count = :n", vals=ddb.values(n=499))
    second = acme.admin("create_knowledge", json_body=KNOWLEDGE[1])
    assert second.status == 201, second.body
    refused = acme.admin("create_knowledge", json_body=KNOWLEDGE[2])
    assert refused.status == 409 and refused.error_code == "knowledge_limit", refused.body
    assert len(knowledge_items(stack, ws)) == 2
    config = config_item(stack, ws)
    assert config is not None and config["knowledge_count"] == 500
    assert config["knowledge_version"] == 2
    # Deleting one makes room again
    acme.admin("delete_knowledge", path_params={"entry_id": second.json["id"]})
    assert acme.admin("create_knowledge", json_body=KNOWLEDGE[2]).status == 201


def test_knowledge_lists_paginate_and_refuse_bad_parameters(stack: Any, acme: BotOrg) -> None:
    made = [acme.create_entry(entry)["id"] for entry in KNOWLEDGE]
    first = acme.admin("list_knowledge", query={"limit": "2"})
    assert [e["id"] for e in first.json["items"]] == made[:2]
    cursor = first.json["next_cursor"]
    second = acme.admin("list_knowledge", query={"limit": "2", "cursor": cursor})
    assert [e["id"] for e in second.json["items"]] == made[2:]
    assert second.json["next_cursor"] is None
    assert acme.admin("list_knowledge").json["next_cursor"] is None

    for query in ({"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"cursor": "!!!"}):
        response = acme.admin("list_knowledge", query=query)
        assert response.status == 400, (query, response.body)
    # A flow cursor cannot page through knowledge, nor another workspace's cursor
    acme.create_flow(small_flow("a"))
    acme.create_flow(small_flow("b"))
    flow_cursor = acme.admin("list_flows", query={"limit": "1"}).json["next_cursor"]
    wrong = acme.admin("list_knowledge", query={"cursor": flow_cursor})
    assert wrong.status == 400 and wrong.error_code == "invalid_cursor"
    globex = BotOrg(acme.client, name="globex")
    foreign = globex.admin("list_knowledge", query={"cursor": cursor})
    assert foreign.status == 400 and foreign.error_code == "invalid_cursor"


def test_expired_items_are_never_read(stack: Any, acme: BotOrg) -> None:
    """These items have no TTL, but every read filters on it like everywhere else."""
    ws = acme.workspace_id
    entry = acme.create_entry(KNOWLEDGE[0])
    flow = acme.create_flow(small_flow())
    past = clock.epoch() - 60
    for sk in (f"KB#{entry['id']}", f"FLOW#{flow['id']}"):
        ddb.update(table(stack), ws, sk, "SET expires_at = :t", vals=ddb.values(t=past))
    assert acme.admin("get_knowledge", path_params={"entry_id": entry["id"]}).status == 404
    assert acme.admin("list_knowledge").json["items"] == []
    assert bot_store.list_knowledge(table(stack), ws) == []
    assert acme.admin("get_flow", path_params={"flow_id": flow["id"]}).status == 404
    assert bot_store.get_flow(table(stack), ws, flow["id"]) is None


def test_the_store_reads_a_workspace_without_bot_config(stack: Any) -> None:
    assert bot_store.get_config(table(stack), "ws_nothing_here") == bot_store.BotConfig(None, 0, 0)
    assert bot_store.config_key("ws_x") == ("ws_x", "BOT")
    assert bot_store.config_from_item(None) == bot_store.BotConfig(None, 0, 0)
    assert bot_store.get_flow(table(stack), "ws_nothing_here", "flow_x") is None
    assert bot_store.list_knowledge(table(stack), "ws_nothing_here") == []


# ---------------------------------------------------------------- preview


def seed_demo(stack: Any, org: BotOrg) -> str:
    """The demo flow (the greeting flow) and the knowledge base; the workspace's site is
    SHOP_ORIGIN, the one domain answers may link to."""
    org.admin("list_flows")  # the first call provisions the workspace
    workspaces.update_settings(table(stack), org.workspace_id, {"allowed_origins": [SHOP_ORIGIN]})
    for entry in KNOWLEDGE:
        org.create_entry(entry)
    return str(org.create_flow(DEMO_FLOW)["id"])


def test_preview_runs_the_demo_flow(stack: Any, acme: BotOrg) -> None:
    flow_id = seed_demo(stack, acme)
    response = acme.admin(
        "preview",
        json_body={
            "messages": [
                {"text": "Hello!"},
                {"text": "Do you ship to Norway?"},
                {"text": "I want to talk to a human"},
                {"text": "Hello?"},
            ]
        },
    )
    assert response.status == 200, response.body
    turns = response.json["turns"]
    assert [t["text"] for t in turns] == [
        "Hello!",
        "Do you ship to Norway?",
        "I want to talk to a human",
        "Hello?",
    ]
    # The greeting, then the menu with its quick replies
    assert turns[0]["actions"] == [
        {"type": "message", "text": "Hi! I'm the Acme bot.", "buttons": None, "source": "flow"},
        {
            "type": "message",
            "text": "What can I help with?",
            "buttons": [
                {"label": "Ask a question", "value": "question"},
                {"label": "Talk to sales", "value": "sales"},
            ],
            "source": "flow",
        },
    ]
    # Typed text goes to the AI step, answered offline from the knowledge base; the link to
    # another site is dropped, the workspace's own kept
    (answer,) = turns[1]["actions"]
    assert answer["type"] == "message" and answer["source"] == "knowledge"
    assert answer["text"].startswith("Yes, we ship to Norway")
    assert "https://shop.acme.test/track" in answer["text"]
    assert "evil.example" not in answer["text"]
    # Asking for a person hands off to the flow's default department
    assert turns[2]["actions"] == [
        {
            "type": "handoff",
            "department_id": "dept_support",
            "reason": "visitor_asked",
            "message": "Let me connect you with someone from our team.",
        }
    ]
    # After the handoff the bot is silent
    assert turns[3]["actions"] == []
    assert response.json["state"] == {
        "flow_id": flow_id,
        "flow_version": 1,
        "step_id": "ask",
        "status": "handed_off",
        "attributes": {},
    }


def test_preview_follows_buttons_conditions_and_collect(stack: Any, acme: BotOrg) -> None:
    seed_demo(stack, acme)
    sales = [{"text": "Hi"}, {"text": "Talk to sales", "value": "sales"}]

    # Open and staffed: the email is collected, the lead tagged, and sales takes over
    staffed = acme.admin(
        "preview",
        json_body={
            "messages": [*sales, {"text": "not an email"}, {"text": "ada@example.com"}],
            "agents_online": True,
            "business_hours_open": True,
        },
    )
    assert staffed.status == 200, staffed.body
    turns = staffed.json["turns"]
    assert [a["text"] for a in turns[1]["actions"]] == ["Your email?"]
    assert [a["text"] for a in turns[2]["actions"]] == ["That doesn't look like an email."]
    assert turns[3]["actions"] == [
        {"type": "set_attribute", "name": "email", "value": "ada@example.com"},
        {"type": "set_attribute", "name": "lead", "value": "sales"},
        {
            "type": "handoff",
            "department_id": "dept_sales",
            "reason": "flow",
            "message": "Connecting you to sales.",
        },
    ]
    assert staffed.json["state"]["attributes"] == {"email": "ada@example.com", "lead": "sales"}

    # Nobody online (the default): the flow says so and closes
    offline = acme.admin("preview", json_body={"messages": sales, "business_hours_open": True})
    assert offline.json["turns"][1]["actions"] == [
        {"type": "message", "text": "Sales is offline.", "buttons": None, "source": "flow"},
        {"type": "close", "message": "We'll write to you tomorrow."},
    ]
    assert offline.json["state"]["status"] == "closed"

    # Business hours come from the workspace settings when the body does not say
    workspaces.update_settings(
        table(stack),
        acme.workspace_id,
        {"business_hours": {"timezone": "UTC", "weekly": {}, "holidays": []}},
    )
    closed = acme.admin("preview", json_body={"messages": sales, "agents_online": True})
    assert closed.json["state"]["status"] == "closed"  # never open: sales is offline


def test_preview_hands_off_when_the_knowledge_base_cannot_answer(stack: Any, acme: BotOrg) -> None:
    seed_demo(stack, acme)
    response = acme.admin(
        "preview",
        json_body={
            "messages": [
                {"text": "Hi"},
                {"text": "Ask a question", "value": "question"},
                {"text": "What is the airspeed velocity of a swallow?"},
            ]
        },
    )
    turns = response.json["turns"]
    assert turns[1]["actions"][0]["text"] == "What would you like to know?"
    assert turns[2]["actions"] == [
        {
            "type": "handoff",
            "department_id": "dept_support",
            "reason": "no_answer",
            "message": "Let me find a colleague.",
        }
    ]


def test_preview_of_a_named_flow_with_attributes(stack: Any, acme: BotOrg) -> None:
    seed_demo(stack, acme)
    vip = {
        "name": "VIP",
        "start_step": "check",
        "steps": [
            {
                "id": "check",
                "type": "condition",
                "rules": [
                    {"kind": "attribute", "attribute": "plan", "op": "equals", "value": "gold"}
                ],
                "then": "vip",
                "else": "bye",
            },
            {"id": "vip", "type": "handoff", "department_id": "dept_vip", "message": "Hi VIP!"},
            {"id": "bye", "type": "close", "message": "Bye."},
        ],
    }
    vip_id = acme.create_flow(vip)["id"]
    gold = acme.admin(
        "preview",
        json_body={"messages": [{"text": "hi"}], "flow_id": vip_id, "attributes": {"plan": "Gold"}},
    )
    assert gold.status == 200, gold.body
    assert gold.json["turns"][0]["actions"][0]["department_id"] == "dept_vip"
    assert gold.json["state"]["flow_id"] == vip_id
    plain = acme.admin("preview", json_body={"messages": [{"text": "hi"}], "flow_id": vip_id})
    assert plain.json["turns"][0]["actions"] == [{"type": "close", "message": "Bye."}]


def test_preview_without_a_flow_or_with_an_unknown_one(stack: Any, acme: BotOrg) -> None:
    messages = {"messages": [{"text": "hi"}]}
    none = acme.admin("preview", json_body=messages)
    assert none.status == 409 and none.error_code == "no_greeting_flow", none.body
    acme.create_flow(small_flow(), active=False)
    still = acme.admin("preview", json_body=messages)
    assert still.status == 409 and still.error_code == "no_greeting_flow"
    for flow_id in ("flow_01JDQ4ZV7W3X9Y8Z6A5B4C3D2E", "nonsense"):
        unknown = acme.admin("preview", json_body={**messages, "flow_id": flow_id})
        assert unknown.status == 404, unknown.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"text": "hi"}] * 21}, "messages"),
        ({"messages": [{"text": "   "}]}, "messages.0.text"),
        ({"messages": [{"text": "x" * 4001}]}, "messages.0.text"),
        ({"messages": [{"text": "hi", "role": "bot"}]}, "messages.0.role"),
        ({"messages": [{"text": "hi"}], "attributes": {"Bad Name": "x"}}, "attributes.Bad Name"),
        ({"messages": [{"text": "hi"}], "attributes": {"plan": "x" * 501}}, "attributes.plan"),
        ({"messages": [{"text": "hi"}], "agents_online": "yes"}, "agents_online"),
        ({"messages": [{"text": "hi"}], "model": "gpt"}, "model"),
        ({}, "messages"),
    ],
    ids=[
        "no_messages",
        "too_many",
        "blank_text",
        "long_text",
        "unknown_message_field",
        "bad_attribute_name",
        "long_attribute",
        "agents_online_not_bool",
        "unknown_field",
        "empty_body",
    ],
)
def test_bad_preview_bodies_are_422(acme: BotOrg, body: dict[str, Any], field: str) -> None:
    response = acme.admin("preview", json_body=body)
    assert response.status == 422, response.body
    fields = {d["field"] for d in response.json["error"]["details"]}
    assert any(f.startswith(field) for f in fields), fields


def test_preview_writes_nothing(stack: Any, acme: BotOrg, recorded: Recorder) -> None:
    ws = acme.workspace_id
    seed_demo(stack, acme)
    before = {
        "config": config_item(stack, ws),
        "flows": flow_items(stack, ws),
        "knowledge": knowledge_items(stack, ws),
    }
    # Given the admin has called before (the first call registers them as an agent)
    recorded.clear()
    # When previews run: the greeting flow, a knowledge answer, a collect step, a handoff
    for body in (
        {"messages": [{"text": "Hello!"}, {"text": "Do you ship to Norway?"}]},
        {
            "messages": [
                {"text": "Hi"},
                {"text": "Talk to sales", "value": "sales"},
                {"text": "ada@example.com"},
            ],
            "agents_online": True,
            "business_hours_open": True,
        },
        {"messages": [{"text": "talk to a human"}]},
    ):
        assert acme.admin("preview", json_body=body).status == 200
    # Then DynamoDB was only read
    assert recorded.operations, "the previews read nothing?"
    assert "Query" in recorded.operations  # the knowledge base was read for the answer
    assert not WRITE_OPERATIONS & set(recorded.operations), recorded.operations
    after = {
        "config": config_item(stack, ws),
        "flows": flow_items(stack, ws),
        "knowledge": knowledge_items(stack, ws),
    }
    assert after == before
