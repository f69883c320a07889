"""DELETE /v1/conversations/{id}: an admin deletes one conversation for good. It is gone for
everyone at once (widget and inbox 404, the agent's load released, its queue entry dropped);
the job deletes every item of it; the visitor and their other conversations stay."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.support import HttpHandlerClient, load_function
from yoosr.store import keys

PATH = "/v1/conversations/{conversation_id}"


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


def privacy_org(stack: Any, apps: ps.Apps, team: Team) -> ps.Org:
    return ps.Org(
        stack,
        apps,
        org_id=team.org.org_id,
        admin_id=team.org.admin_id,
        agent_id=team.org.agent_id,
        widget_key=team.widget_key,
        provision=False,
    )


def test_an_admin_deletes_one_conversation_for_good(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient
) -> None:
    # Given a conversation an agent holds, and another one of the same visitor
    team = Team(Org(agent_routing_client(stack)), widget, stack)
    routing_events = load_function("agent_routing_events")
    tap = StreamTap(stack, "AgentRoutingEventsFunction")
    sales = team.department("Sales")
    ann = team.agent("ann", [sales], capacity=2)
    visitor = team.visitor()
    doomed = visitor.start_conversation("Delete this conversation please")
    assert ask_for_human(visitor, doomed, department_id=sales).status == 202
    tap.deliver(routing_events.lambda_handler)
    assert team.agent_item("ann")["open_count"] == 1
    kept = visitor.start_conversation("Keep this one")
    org = privacy_org(stack, apps, team)

    # An agent may not delete it; another workspace does not even find it
    refused = org.call("DELETE", PATH, role="agent", conversation_id=doomed)
    assert refused.status == 403
    stranger = ps.Org(stack, apps)
    assert stranger.call("DELETE", PATH, conversation_id=doomed).status == 404

    # When an admin deletes it
    deleted = org.call("DELETE", PATH, conversation_id=doomed)
    assert deleted.status == 202, deleted.body
    request = deleted.json
    assert (request["type"], request["status"]) == ("delete_conversation", "queued")
    assert request["conversation_id"] == doomed

    # Then it is gone for everyone at once, and the agent's slot is free again
    assert visitor.messages(doomed).status == 404
    listed = [c["id"] for c in visitor.call("widget_list_conversations").json["items"]]
    assert listed == [kept]
    inbox = team.inbox("get_conversation", ann.token, path_params={"conversation_id": doomed})
    assert inbox.status == 404
    assert team.agent_item("ann")["open_count"] == 0
    assert org.call("DELETE", PATH, conversation_id=doomed).status == 404

    # And the job deletes every item of it; the visitor and the other conversation stay
    ps.run_jobs(stack, apps)
    done = org.get(request["id"]).json
    assert done["status"] == "completed", done
    assert done["counts"]["conversations.messages"] == 1
    assert [e["action"] for e in done["audit"]] == ["submit", "start", "complete"]
    assert ps.partition(stack, "ConversationsTable", keys.conversation_pk(team.ws, doomed)) == []
    assert visitor.messages(kept).json["items"][0]["text"] == "Keep this one"
    assert visitor.call("widget_list_conversations").status == 200
