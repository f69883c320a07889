"""The inbox through the real handlers: a visitor asks for a human (widget), the stream
consumer assigns an agent, the agent works the conversation (agent_routing), and the visitor
sees the agents' replies but never their notes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.integration.widget_support import Visitor, conversation_item, stored_messages
from tests.support import HttpHandlerClient, LambdaContext, load_function, sample_event
from yoosr import clock
from yoosr.store import conversations as conv_store
from yoosr.store import ddb, keys

LABEL = "label_01JZ0000000000000000000000"


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture(scope="module")
def events(stack: Any) -> Any:
    return load_function("agent_routing_events")


@pytest.fixture
def team(stack: Any, routing: HttpHandlerClient, widget: HttpHandlerClient) -> Team:
    return Team(Org(routing), widget, stack)


@pytest.fixture
def tap(stack: Any) -> StreamTap:
    return StreamTap(stack, "AgentRoutingEventsFunction")


def path(conversation_id: str) -> dict[str, str]:
    return {"conversation_id": conversation_id}


def handed_off(
    team: Team, tap: StreamTap, events: Any, text: str = "Help!", **body: Any
) -> tuple[Visitor, str]:
    visitor = team.visitor()
    conversation_id = visitor.start_conversation(text)
    response = ask_for_human(visitor, conversation_id, **body)
    assert response.status == 202, response.body
    tap.deliver(events.lambda_handler)
    return visitor, conversation_id


def test_handoff_assignment_reply_and_notes(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    # Given a Sales department with one agent online
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=2)

    # When a visitor asks for a human and the stream consumer runs
    visitor, conversation_id = handed_off(team, tap, events)

    # Then Ann is assigned, her load is 1, and the conversation is in her inbox
    item = conversation_item(stack, team.ws, conversation_id)
    assert (item["owner"], item["assignee_id"], item["department_id"]) == (
        "human",
        ann.user_id,
        sales,
    )
    assert "queue_sk" not in item
    assert team.agent_item("ann")["open_count"] == 1
    mine = team.inbox("list_conversations", ann.token, query={"assignee": "me"})
    assert mine.status == 200 and [c["id"] for c in mine.json["items"]] == [conversation_id]
    assert mine.json["items"][0]["first_response_due_at"] is not None

    # When Ann writes a note and a reply
    note = team.inbox(
        "post_message",
        ann.token,
        path_params=path(conversation_id),
        json_body={"text": "VIP customer, be nice", "private": True},
    )
    assert note.status == 201 and note.json["private"] is True
    assert note.json["id"].startswith("note_")
    reply = team.inbox(
        "post_message",
        ann.token,
        path_params=path(conversation_id),
        json_body={"text": "Hi, Ann here. How can I help?"},
    )
    assert reply.status == 201, reply.body
    assert reply.json["sender_type"] == "agent" and reply.json["agent_id"] == ann.user_id

    # Then the visitor sees the reply, never the note (not even as the preview)
    widget_messages = visitor.messages(conversation_id).json["items"]
    assert [m["text"] for m in widget_messages] == ["Help!", "Hi, Ann here. How can I help?"]
    assert widget_messages[1]["agent_id"] == ann.user_id
    listed = visitor.call("widget_list_conversations").json["items"][0]
    assert listed["last_message_preview"] == "Hi, Ann here. How can I help?"
    assert listed["assignee_id"] == ann.user_id and listed["queue_position"] is None
    # The dashboard sees both, in order
    dashboard = team.inbox("list_messages", ann.token, path_params=path(conversation_id)).json
    assert [(m["text"], m["private"]) for m in dashboard["items"]] == [
        ("Help!", False),
        ("VIP customer, be nice", True),
        ("Hi, Ann here. How can I help?", False),
    ]
    stored = conversation_item(stack, team.ws, conversation_id)
    assert stored["first_response_at"] == reply.json["created_at"]
    assert "sla_pk" not in stored  # no longer awaiting a first response
    assert stored["note_count"] == 1 and stored["message_count"] == 2


def test_reply_is_idempotent_on_client_message_id(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    team.agent("ann", [team.department("Sales")])
    _, conversation_id = handed_off(team, tap, events)
    token = team.members["ann"].token
    body = {"text": "On it", "client_message_id": "reply-1"}
    first = team.inbox("post_message", token, path_params=path(conversation_id), json_body=body)
    again = team.inbox("post_message", token, path_params=path(conversation_id), json_body=body)
    assert (first.status, again.status) == (201, 200)
    assert again.json == first.json
    other = team.inbox(
        "post_message",
        token,
        path_params=path(conversation_id),
        json_body={**body, "text": "Something else"},
    )
    assert other.status == 409 and other.error_code == "client_message_id_reused"
    assert len(stored_messages(stack, team.ws, conversation_id)) == 2


def test_reply_to_an_unassigned_conversation_takes_it_over(stack: Any, team: Team) -> None:
    # Given a bot conversation and an agent who is offline (nothing automatic happens)
    ann = team.agent("ann", [], status="offline")
    visitor = team.visitor()
    conversation_id = visitor.start_conversation("Hello bot")
    reply = team.inbox(
        "post_message",
        ann.token,
        path_params=path(conversation_id),
        json_body={"text": "A human here"},
    )
    assert reply.status == 201
    item = conversation_item(stack, team.ws, conversation_id)
    assert (item["owner"], item["assignee_id"]) == ("human", ann.user_id)
    assert item["first_response_at"] == reply.json["created_at"]
    assert team.agent_item("ann")["open_count"] == 1


def test_queue_notice_resolve_frees_capacity_and_reopen(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=1)
    _, first = handed_off(team, tap, events, "first")
    second_visitor, second = handed_off(team, tap, events, "second")

    # The second visitor waits, first in line, and was told so
    waiting = second_visitor.call("widget_list_conversations").json["items"][0]
    assert waiting["queue_position"] == 1 and waiting["assignee_id"] is None
    assert waiting["inside_business_hours"] is True
    notices = [
        m for m in second_visitor.messages(second).json["items"] if m["sender_type"] == "system"
    ]
    assert len(notices) == 1 and "helping other visitors" in notices[0]["text"]
    assert "number 1 in line" in notices[0]["text"]
    detail = team.inbox("get_conversation", ann.token, path_params=path(second)).json
    assert detail["queue_position"] == 1

    # When Ann resolves the first conversation, the second is hers at once
    resolved = team.inbox("resolve", ann.token, path_params=path(first))
    assert resolved.status == 200
    assert resolved.json["status"] == "resolved" and resolved.json["assignee_id"] is None
    assert resolved.json["last_assignee_id"] == ann.user_id
    assert conversation_item(stack, team.ws, second)["assignee_id"] == ann.user_id
    assert team.agent_item("ann")["open_count"] == 1
    # Resolved conversations are listed under their last assignee
    done = team.inbox(
        "list_conversations", ann.token, query={"assignee": "me", "status": "resolved"}
    ).json["items"]
    assert [c["id"] for c in done] == [first]

    # Reopening gives the conversation back to whoever reopens it (capacity is a default,
    # a person's decision overrides it)
    reopened = team.inbox("reopen", ann.token, path_params=path(first))
    assert reopened.status == 200 and reopened.json["assignee_id"] == ann.user_id
    assert team.agent_item("ann")["open_count"] == 2
    assert team.inbox("resolve", ann.token, path_params=path(first)).status == 200
    assert team.inbox("resolve", ann.token, path_params=path(first)).status == 200  # replay


def test_visitor_message_reopens_and_requeues_a_resolved_conversation(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=1)
    visitor, conversation_id = handed_off(team, tap, events)
    assert team.inbox("resolve", ann.token, path_params=path(conversation_id)).status == 200
    tap.deliver(events.lambda_handler)

    # When the visitor writes again
    assert visitor.post(conversation_id, "One more question").status == 201
    item = conversation_item(stack, team.ws, conversation_id)
    assert item["status"] == "open" and item["inbox_status_pk"].endswith("#STATUS#open")
    # Then the stream consumer queues it again, and Ann (free again) gets it
    tap.deliver(events.lambda_handler)
    item = conversation_item(stack, team.ws, conversation_id)
    assert item["assignee_id"] == ann.user_id
    assert team.agent_item("ann")["open_count"] == 1


def test_assign_and_transfer(stack: Any, team: Team, tap: StreamTap, events: Any) -> None:
    sales, billing = team.department("Sales"), team.department("Billing")
    ann = team.agent("ann", [sales], capacity=1)
    bob = team.agent("bob", [billing], capacity=1)
    _, conversation_id = handed_off(team, tap, events)
    assert conversation_item(stack, team.ws, conversation_id)["assignee_id"] == ann.user_id

    # Assign to a named agent: load moves with it (bob's capacity is not a veto)
    moved = team.inbox(
        "assign", ann.token, path_params=path(conversation_id), json_body={"agent_id": bob.user_id}
    )
    assert moved.status == 200 and moved.json["assignee_id"] == bob.user_id
    assert (team.agent_item("ann")["open_count"], team.agent_item("bob")["open_count"]) == (0, 1)

    # Transfer to Sales: back in a queue, keeping its original arrival; Ann takes it
    arrival = conversation_item(stack, team.ws, conversation_id)["arrival_id"]
    transferred = team.inbox(
        "assign", bob.token, path_params=path(conversation_id), json_body={"department_id": sales}
    )
    assert transferred.status == 200 and transferred.json["department_id"] == sales
    item = conversation_item(stack, team.ws, conversation_id)
    assert item["arrival_id"] == arrival and item["assignee_id"] == ann.user_id
    assert (team.agent_item("ann")["open_count"], team.agent_item("bob")["open_count"]) == (1, 0)

    for body, field in (
        ({"agent_id": "user_nobody"}, "agent_id"),
        ({"department_id": "dept_01JZ0000000000000000000000"}, "department_id"),
    ):
        refused = team.inbox("assign", ann.token, path_params=path(conversation_id), json_body=body)
        assert refused.status == 422 and refused.json["error"]["details"][0]["field"] == field
    both = team.inbox(
        "assign",
        ann.token,
        path_params=path(conversation_id),
        json_body={"agent_id": bob.user_id, "department_id": sales},
    )
    assert both.status == 422


def test_inbox_filters_labels_and_pagination(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=5)
    label = team.org.admin("create_label", json_body={"name": "Refund"}).json["id"]
    _, c1 = handed_off(team, tap, events, "one")
    _, c2 = handed_off(team, tap, events, "two")
    bot_visitor = team.visitor()
    c3 = bot_visitor.start_conversation("still with the bot")

    labelled = team.inbox("labels", ann.token, path_params=path(c1), json_body={"add": [label]})
    assert labelled.status == 200 and labelled.json["labels"] == [label]
    unknown = team.inbox("labels", ann.token, path_params=path(c1), json_body={"add": [LABEL]})
    assert unknown.status == 422 and unknown.json["error"]["details"][0]["field"] == "add"

    def ids(**query: str) -> list[str]:
        response = team.inbox("list_conversations", ann.token, query=query)
        assert response.status == 200, response.body
        return [c["id"] for c in response.json["items"]]

    assert ids() == [c3, c2, c1]  # newest activity first
    assert ids(department_id=sales) == [c2, c1]
    assert ids(assignee="unassigned") == [c3]
    assert ids(assignee=ann.user_id, label=label) == [c1]
    assert ids(label=label) == [c1]
    assert ids(owner="bot") == [c3]
    assert ids(assignee="me", department_id=sales, owner="human") == [c2, c1]

    # Pages of one, following next_cursor
    seen, cursor = [], None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = team.inbox("list_conversations", ann.token, query=query).json
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c3, c2, c1]

    removed = team.inbox("labels", ann.token, path_params=path(c1), json_body={"remove": [label]})
    assert removed.status == 200 and removed.json["labels"] == []
    assert ids(label=label) == []

    # Bad queries are 400, never 500
    for query in (
        {"status": "pending"},
        {"cursor": "not-a-cursor"},
        {"assignee": "a b"},
        {"limit": "0"},
        {"department_id": "sales"},
    ):
        response = team.inbox("list_conversations", ann.token, query=query)
        assert response.status == 400, (query, response.body)


def test_cursor_of_another_workspace_is_refused(
    stack: Any,
    routing: HttpHandlerClient,
    widget: HttpHandlerClient,
    team: Team,
    tap: StreamTap,
    events: Any,
) -> None:
    team.agent("ann", [team.department("Sales")], capacity=5)
    handed_off(team, tap, events, "one")
    handed_off(team, tap, events, "two")
    page = team.admin_inbox("list_conversations", query={"limit": "1"}).json
    assert page["next_cursor"]
    other = Team(Org(routing), widget, stack)
    response = other.admin_inbox("list_conversations", query={"cursor": page["next_cursor"]})
    assert response.status == 400 and response.error_code == "invalid_cursor"


def test_detail_has_visitor_attributes_and_business_hours(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    # Given a department whose hours are never open (a holiday every day this week)
    today = clock.now().date()
    hours = {
        "timezone": "UTC",
        "weekly": {
            d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
        "holidays": [today.isoformat()],
    }
    night = team.department("Night shift", business_hours=hours)
    visitor = team.visitor()
    assert (
        visitor.call(
            "widget_update_visitor", json_body={"name": "Vera", "email": "v@x.example"}
        ).status
        == 200
    )
    conversation_id = visitor.start_conversation("anyone?")
    response = ask_for_human(visitor, conversation_id, department_id=night)
    assert response.status == 202
    assert response.json["inside_business_hours"] is False
    assert response.json["next_open_at"] == f"{today + timedelta(days=1)}T00:00:00.000Z"
    tap.deliver(events.lambda_handler)

    # The visitor was told when the team is back (nobody is online either)
    notice = [
        m for m in visitor.messages(conversation_id).json["items"] if m["sender_type"] == "system"
    ]
    assert len(notice) == 1 and "Our team is away right now" in notice[0]["text"]

    detail = team.admin_inbox("get_conversation", path_params=path(conversation_id))
    assert detail.status == 200, detail.body
    body = detail.json
    assert body["visitor"]["name"] == "Vera" and body["visitor"]["email"] == "v@x.example"
    assert body["queue_position"] == 1 and body["inside_business_hours"] is False
    assert body["department_id"] == night

    # Asking again changes nothing (200, same place in line)
    again = ask_for_human(visitor, conversation_id)
    assert again.status == 200 and again.json["queue_position"] == 1
    unknown = ask_for_human(team.visitor(), conversation_id)
    assert unknown.status == 404


def test_handoff_without_departments_uses_the_workspace_queue(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    visitor = team.visitor()
    conversation_id = visitor.start_conversation("hello?")
    response = ask_for_human(visitor, conversation_id)
    assert response.status == 202 and response.json["department_id"] is None
    item = conversation_item(stack, team.ws, conversation_id)
    assert item["queue_pk"] == f"{team.ws}#QUEUE#-"
    tap.deliver(events.lambda_handler)
    notice = [
        m for m in visitor.messages(conversation_id).json["items"] if m["sender_type"] == "system"
    ]
    assert len(notice) == 1 and "No one from our team is online" in notice[0]["text"]
    # An agent without departments coming online takes it (the team API wakes the dispatcher)
    ann = team.agent("ann", [])
    assert conversation_item(stack, team.ws, conversation_id)["assignee_id"] == ann.user_id
    bad = ask_for_human(
        visitor, visitor.start_conversation("x"), department_id="dept_01JZ0000000000000000000000"
    )
    assert bad.status == 422 and bad.json["error"]["details"][0]["field"] == "department_id"


def test_a_writer_that_only_flips_the_owner_still_gets_routed(
    stack: Any, team: Team, tap: StreamTap, events: Any
) -> None:
    # Given an online agent and a bot conversation
    ann = team.agent("ann", [team.department("Sales")])
    visitor = team.visitor()
    conversation_id = visitor.start_conversation("bot, get me a human")
    # When some other function sets owner = human and nothing else
    pk, sk = keys.conversation(team.ws, conversation_id)
    ddb.update(
        stack.table("ConversationsTable"),
        pk,
        sk,
        "SET #o = :h",
        names={"#o": "owner"},
        vals=ddb.values(h="human"),
    )
    # Then the stream consumer queues it and assigns it
    delivered = tap.deliver(events.lambda_handler)
    assert delivered
    item = conversation_item(stack, team.ws, conversation_id)
    assert item["assignee_id"] == ann.user_id and item["handed_off_at"]

    # Redelivering everything changes nothing (idempotent consumer)
    for record in delivered:
        result = events.lambda_handler({"Records": [record]}, LambdaContext())
        assert result == {"batchItemFailures": []}
    assert team.agent_item("ann")["open_count"] == 1
    assert [m["sender_type"] for m in visitor.messages(conversation_id).json["items"]] == [
        "visitor"
    ]


def test_bad_records_are_reported_not_thrown(events: Any) -> None:
    sample = sample_event("agent_routing_events_queue_entry")
    # The sample's workspace has no agents and no conversation: nothing to do, no failure.
    assert events.lambda_handler(sample, LambdaContext()) == {"batchItemFailures": []}
    owner = sample_event("agent_routing_events_owner_changed")
    assert events.lambda_handler(owner, LambdaContext()) == {"batchItemFailures": []}
    broken = sample_event("agent_routing_events_queue_entry")["Records"][0]
    del broken["dynamodb"]["NewImage"]["workspace_id"]
    broken["dynamodb"]["SequenceNumber"] = "222200000000000000001"
    batch = {"Records": [*owner["Records"], broken]}
    assert events.lambda_handler(batch, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "222200000000000000001"}]
    }


def test_expired_conversations_are_not_listed(stack: Any, team: Team) -> None:
    visitor = team.visitor()
    conversation_id = visitor.start_conversation("old")
    pk, sk = keys.conversation(team.ws, conversation_id)
    ddb.update(
        stack.table("ConversationsTable"),
        pk,
        sk,
        "SET expires_at = :past",
        vals=ddb.values(past=clock.epoch() - 10),
    )
    listed = team.admin_inbox("list_conversations").json["items"]
    assert conversation_id not in [c["id"] for c in listed]
    assert team.admin_inbox("get_conversation", path_params=path(conversation_id)).status == 404
    assert conv_store.get(stack.table("ConversationsTable"), team.ws, conversation_id) is None
