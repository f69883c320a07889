"""The issue's proof under moto, through the real APIs and consumers: a scripted day of support
(widget visitors, the bot's turns with a scripted model, handoffs, the dispatcher's claims,
agents' replies, notes, resolves, a visitor's reopen, ratings) in Europe/Oslo, counted by the
analytics consumer from the Conversations stream, then read through the analytics API. Every
figure was computed by hand (docs/metrics.md, the worked examples). Then the whole stream is
delivered again, and the backfill rebuilds the rollups from the stored conversations: no
figure and no stored rollup item moves."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from scripts import backfill_analytics
from tests.integration.analytics_support import (
    LocalClock,
    analytics_client,
    analytics_events,
    analytics_tap,
    ask,
    frozen_at,
    rollup_items,
)
from tests.integration.bot_admin_support import BotOrg, bot_client
from tests.integration.bot_support import FakeOpenRouter, bot_tap, configure_bot_env, say, use_model
from tests.integration.dashboard_support import DASHBOARD_ORIGIN, Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.integration.widget_support import Visitor, conversation_item
from tests.integration.workspace_support import workspace_module
from tests.support import HttpHandlerClient, LambdaContext, load_function
from yoosr import clock
from yoosr.analytics.histogram import RELATIVE_ERROR
from yoosr.store import agents, conversations

ZONE = "Europe/Oslo"  # UTC+2 in June: local midnight is 22:00 UTC the day before
DAY1, DAY2 = "2025-06-10", "2025-06-11"
M1, M2 = "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"
RANGE = {"from": DAY1, "to": DAY2}

FLOW: dict[str, Any] = {
    "name": "Analytics proof",
    "start_step": "greet",
    "handoff_message": "Let me connect you with someone from our team.",
    "active": True,
    "steps": [
        {"id": "greet", "type": "message", "text": "Hi! I'm the shop's assistant.", "next": "menu"},
        {
            "id": "menu",
            "type": "buttons",
            "text": "How can I help?",
            "on_other": "ask",
            "options": [
                {"label": "Ask a question", "value": "question", "next": "ask"},
                {"label": "Talk to a person", "value": "human", "next": "to_human"},
            ],
        },
        {
            "id": "ask",
            "type": "ai_answer",
            "prompt": "Ask away.",
            "next_on_answer": "after",
            "on_no_answer": "to_human",
        },
        {
            "id": "after",
            "type": "buttons",
            "text": "Anything else?",
            "on_other": "ask",
            "options": [
                {"label": "No, thanks", "value": "done", "next": "bye"},
                {"label": "Talk to a person", "value": "human", "next": "to_human"},
            ],
        },
        {"id": "to_human", "type": "handoff", "message": "Connecting you with our team."},
        {"id": "bye", "type": "close", "message": "Glad I could help!"},
    ],
}

# The scripted model: what each question costs and how it ends.
ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "shipping": (200, {"answer": "Three to five days.", "handoff": False, "confidence": 0.9}),
    "refund": (200, {"answer": "", "handoff": True, "confidence": 0.2}),
    "warranty": (502, {}),
    "norway": (200, {"answer": "Yes, we ship to Norway.", "handoff": False, "confidence": 0.9}),
}
USAGE = {
    "shipping": (100, 20, 0.0012),
    "refund": (120, 10, 0.0010),
    "norway": (50, 30, 0.0005),
}


def model_reply(request: httpx.Request) -> httpx.Response:
    question = json.loads(request.content)["messages"][-1]["content"].lower()
    topic = next(t for t in ANSWERS if t in question)
    status, decision = ANSWERS[topic]
    if status != 200:
        return httpx.Response(status, json={"error": {"code": status, "message": "upstream"}})
    prompt, completion, cost = USAGE[topic]
    return httpx.Response(
        200,
        json={
            "id": f"gen-{topic}",
            "model": M1,  # OpenRouter served the request with a fallback model
            "choices": [
                {
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": json.dumps(decision)},
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "cost": cost,
            },
        },
    )


@dataclass
class Proof:
    """The scripted workspace: its team, taps on the stream and the clock."""

    stack: Any
    team: Team
    clock: LocalClock
    bot: Any
    routing: Any
    bot_tap: StreamTap
    routing_tap: StreamTap
    analytics_tap: StreamTap
    departments: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, str] = field(default_factory=dict)
    visitors: dict[str, Visitor] = field(default_factory=dict)

    @property
    def ws(self) -> str:
        return self.team.ws

    def at(self, hhmmss: str, day: str = DAY1) -> None:
        self.clock.at(hhmmss, day)

    def bot_turns(self) -> None:
        self.bot_tap.deliver(self.bot.lambda_handler)

    def routing_turns(self) -> None:
        self.routing_tap.deliver(self.routing.lambda_handler)

    def only_online(self, *names: str) -> None:
        """Presence written directly: a long heartbeat for these agents, offline for others."""
        table = self.stack.table("WorkspacesTable")
        for name, member in self.team.members.items():
            online = name in names
            agents.set_presence(
                table,
                self.ws,
                member.user_id,
                "online" if online else "offline",
                clock.epoch() + (6 * 3600 if online else -1),
                clock.iso(),
            )

    def start(self, name: str) -> str:
        visitor = self.team.visitor()
        self.visitors[name] = visitor
        self.conversations[name] = visitor.start_conversation(text=None)
        return self.conversations[name]

    def say(self, name: str, text: str, value: str | None = None) -> None:
        say(self.visitors[name], self.conversations[name], text, value)

    def rate(self, name: str, rating: int) -> None:
        response = self.visitors[name].call(
            "widget_submit_csat",
            path_params={"conversation_id": self.conversations[name]},
            json_body={"rating": rating},
        )
        assert response.status in (200, 201), response.body

    def agent_does(self, agent: str, action: str, name: str, **body: Any) -> None:
        response = self.team.inbox(
            action,
            self.team.members[agent].token,
            path_params={"conversation_id": self.conversations[name]},
            json_body=body,
        )
        assert response.status in (200, 201), response.body


def run_script(p: Proof) -> None:
    # A: the bot answers (model M1) and closes; rated 5.
    p.at("09:00:00")
    p.start("A")
    p.at("09:00:01")
    p.bot_turns()  # greeting: bot-handled on day 1
    p.at("09:00:30")
    p.say("A", "Ask a question", "question")
    p.at("09:00:31")
    p.bot_turns()
    p.at("09:01:00")
    p.say("A", "How long does shipping take?")
    p.at("09:01:01")
    p.bot_turns()  # answer: 100 + 20 tokens, $0.0012
    p.at("09:02:00")
    p.say("A", "No, thanks", "done")
    p.at("09:02:01")
    p.bot_turns()  # closed by the bot: bot resolution 121 s; the rating is offered
    p.at("09:03:00")
    p.rate("A", 5)

    # B: the model cannot answer, the bot hands off to Support; u1 answers and resolves
    # (rated 2); the visitor writes again, u2 takes the second cycle.
    p.at("10:00:00")
    p.start("B")
    p.at("10:00:01")
    p.bot_turns()
    p.at("10:00:30")
    p.say("B", "I need a refund for my order")
    p.at("10:00:31")
    p.bot_turns()  # no answer (120 + 10, $0.0010) → handoff: the bot's 31 s before it
    p.at("10:00:32")
    p.only_online("u1")
    p.routing_turns()  # claimed by u1
    p.at("10:03:30")
    p.agent_does("u1", "post_message", "B", text="Checking the order.", private=True)
    p.at("10:05:00")
    p.agent_does("u1", "post_message", "B", text="Hi! Let me look.")  # first response 269 s
    p.at("10:06:00")
    p.agent_does("u1", "post_message", "B", text="Refund issued.")
    p.at("10:30:31")
    p.agent_does("u1", "resolve", "B")  # resolution 1800 s
    p.at("10:40:00")
    p.rate("B", 2)
    p.at("11:00:00")
    p.say("B", "It has not arrived yet")  # the visitor reopens: cycle 2
    p.at("11:00:01")
    p.only_online("u2")
    p.bot_turns()  # human-owned: the bot stays quiet
    p.routing_turns()  # queued again and claimed by u2
    p.at("11:10:00")
    p.agent_does("u2", "post_message", "B", text="Sorry, I'll chase it.")  # 600 s
    p.at("12:00:00")
    p.agent_does("u2", "resolve", "B")  # 3600 s; the rating was offered already

    # C: the model fails (M2, 502), the bot hands off; u1 answers; no rating.
    p.at("13:00:00")
    p.start("C")
    p.at("13:00:01")
    p.bot_turns()
    p.at("13:00:05")
    p.say("C", "Ask a question", "question")
    p.at("13:00:06")
    p.bot_turns()
    p.at("13:00:10")
    p.say("C", "Is my warranty still valid?")
    p.at("13:00:11")
    p.bot_turns()  # model_unavailable → handoff: 11 s of bot time
    p.at("13:00:12")
    p.only_online("u1")
    p.routing_turns()
    p.at("13:20:11")
    p.agent_does("u1", "post_message", "C", text="Yes, two years.")  # 1200 s
    p.at("14:00:11")
    p.agent_does("u1", "resolve", "C")  # 3600 s

    # D: the visitor asks for Billing before the bot says anything; u2; rated 4.
    p.at("15:00:00")
    p.start("D")
    response = ask_for_human(
        p.visitors["D"], p.conversations["D"], department_id=p.departments["billing"]
    )
    assert response.status == 202, response.body
    p.at("15:00:01")
    p.only_online("u2")
    p.bot_turns()  # human-owned by now: no greeting, not bot-handled
    p.routing_turns()
    p.at("15:01:00")
    p.agent_does("u2", "post_message", "D", text="Hello from billing.")  # 60 s
    p.at("15:05:00")
    p.agent_does("u2", "resolve", "D")  # 300 s
    p.at("15:06:00")
    p.rate("D", 4)

    # F: u3 replies to a bot conversation before the bot spoke, taking it over (0 s).
    p.at("16:00:00")
    p.start("F")
    p.at("16:00:30")
    p.agent_does("u3", "post_message", "F", text="Hi, I saw you on the pricing page.")
    p.at("16:00:31")
    p.bot_turns()

    # E: starts late on day 1; the bot greets after local midnight (22:05 UTC, still June 10
    # in UTC), so it is bot-handled on day 2, where its model answer (M1) counts too.
    p.at("23:50:00")
    p.start("E")
    p.at("00:05:00", DAY2)
    p.bot_turns()
    p.at("00:05:30", DAY2)
    p.say("E", "Ask a question", "question")
    p.at("00:05:31", DAY2)
    p.bot_turns()
    p.at("00:06:00", DAY2)
    p.say("E", "Do you ship to Norway?")
    p.at("00:06:01", DAY2)
    p.bot_turns()  # 50 + 30 tokens, $0.0005

    p.at("12:00:00", DAY2)


@dataclass
class Outcome:
    proof: Proof
    client: HttpHandlerClient
    consumer: Any
    delivered: list[dict[str, Any]]

    def get(self, endpoint: str, **query: str) -> Any:
        response = ask(self.client, self.proof.team.org.admin_token, endpoint, {**RANGE, **query})
        assert response.status == 200, response.body
        return response.json


@pytest.fixture(scope="module")
def outcome(stack: Any, widget: HttpHandlerClient) -> Iterator[Outcome]:
    monkeypatch = pytest.MonkeyPatch()
    configure_bot_env(stack)
    bot = load_function("bot_reply_events")
    consumer = analytics_events(stack)
    client = analytics_client(stack)
    team = Team(Org(agent_routing_client(stack)), widget, stack)
    with frozen_at(ZONE, DAY1) as local:
        # Given a workspace in Oslo whose bot asks M2 (OpenRouter may serve M1 instead),
        # two departments, three agents and the proof's flow
        admin = {"authorization": f"Bearer {team.org.admin_token}", "origin": DASHBOARD_ORIGIN}
        patched = HttpHandlerClient(workspace_module(stack).lambda_handler).call(
            "workspace_update",
            headers=admin,
            json_body={
                "business_hours": {"timezone": ZONE, "weekly": {}},
                "ai_model": M2,
            },
        )
        assert patched.status == 200, patched.body
        support, billing = team.department("Support"), team.department("Billing")
        for name in ("u1", "u2", "u3"):
            team.agent(name, [support, billing], status="offline")
        bots = BotOrg(
            bot_client(stack),
            org_id=team.org.org_id,
            admin_id=team.org.admin_id,
            agent_id=team.org.agent_id,
        )
        bots.create_flow({**FLOW, "default_department_id": support})
        use_model(monkeypatch, bot, FakeOpenRouter(model_reply))
        proof = Proof(
            stack,
            team,
            local,
            bot,
            load_function("agent_routing_events"),
            bot_tap(stack),
            StreamTap(stack, "AgentRoutingEventsFunction"),
            analytics_tap(stack),
            departments={"support": support, "billing": billing},
        )
        # When the day happens, and the analytics consumer reads the stream afterwards
        run_script(proof)
        delivered = proof.analytics_tap.deliver(consumer.lambda_handler)
        yield Outcome(proof, client, consumer, delivered)
    monkeypatch.undo()


def within(estimate: float | None, exact: float) -> bool:
    """Within the histogram's stated error (plus rounding to whole seconds)."""
    assert estimate is not None
    if exact == 0:
        return estimate == 0
    return abs(estimate - exact) <= RELATIVE_ERROR * exact + 0.5


# ---------------------------------------------------------------- the figures


def test_conversation_counts(outcome: Outcome) -> None:
    overview = outcome.get("overview")
    assert (overview["from"], overview["to"]) == (DAY1, DAY2)
    assert overview["conversations"] == {
        "started": 6,  # A B C D E F
        "bot_handled": 4,  # A B C E: the bot wrote in them (not D, not F)
        "bot_resolved": 1,  # A
        "handed_off": 4,  # B C D F
        "resolved": 5,  # A, B twice, C, D
        "reopened": 1,  # B
    }


def test_durations_within_the_histogram_error(outcome: Outcome) -> None:
    overview = outcome.get("overview")
    # First responses F 0, D 60, B 269, B again 600, C 1200: the 3rd and the 5th of 5.
    assert within(overview["first_response"]["median_seconds"], 269)
    assert within(overview["first_response"]["p90_seconds"], 1200)
    # Human resolutions D 300, B 1800, B again 3600, C 3600: the 2nd and the 4th of 4.
    assert within(overview["resolution"]["median_seconds"], 1800)
    assert within(overview["resolution"]["p90_seconds"], 3600)
    # The bot's time before its handoffs, reported apart: C 11, B 31.
    assert within(overview["bot"]["time_to_handoff"]["median_seconds"], 11)
    assert within(overview["bot"]["time_to_handoff"]["p90_seconds"], 31)


def test_csat_bot_and_ai(outcome: Outcome) -> None:
    overview = outcome.get("overview")
    # Ratings A 5, B 2, D 4 of the 4 conversations offered one (A B C D at their first resolve).
    assert overview["csat"] == {"score": 0.6667, "responses": 3, "response_rate": 0.75}
    # Bot-handled A B C E: A contained; B and C handed off (D and F never reached the bot).
    assert overview["bot"]["containment_rate"] == 0.25
    assert overview["bot"]["handoff_rate"] == 0.5
    assert overview["ai"] == {
        "calls": 4,  # A, B, C, E
        "failures": 1,  # C
        "prompt_tokens": 270,
        "completion_tokens": 60,
        "cost_usd": "0.0027",
    }
    assert overview["privacy"] == {
        "received": 0,
        "completed": 0,
        "completed_on_time": 0,
        "overdue": 0,
        "denied": 0,
        "cancelled": 0,
    }


def test_agents(outcome: Outcome) -> None:
    team = outcome.proof.team
    u1, u2, u3 = (team.members[n].user_id for n in ("u1", "u2", "u3"))
    rows = {row["agent_id"]: row for row in outcome.get("agents")["items"]}
    assert set(rows) == {u1, u2, u3}  # nobody else did anything (the admin resolved nothing)
    counts = {
        agent: (r["messages"], r["conversations_handled"], r["assigned"], r["resolved"])
        for agent, r in rows.items()
    }
    assert counts == {u1: (3, 2, 2, 2), u2: (2, 2, 2, 2), u3: (1, 1, 1, 0)}  # notes excluded
    assert within(rows[u1]["first_response"]["median_seconds"], 269)
    assert within(rows[u1]["first_response"]["p90_seconds"], 1200)
    assert within(rows[u1]["resolution"]["median_seconds"], 1800)
    assert within(rows[u2]["first_response"]["median_seconds"], 60)
    assert within(rows[u2]["first_response"]["p90_seconds"], 600)
    assert within(rows[u2]["resolution"]["median_seconds"], 300)
    assert within(rows[u2]["resolution"]["p90_seconds"], 3600)
    assert rows[u3]["first_response"]["median_seconds"] == 0
    assert rows[u3]["resolution"] == {"median_seconds": None, "p90_seconds": None}
    assert rows[u1]["csat"] == {"score": 0.0, "responses": 1}  # B, rated in u1's cycle
    assert rows[u2]["csat"] == {"score": 1.0, "responses": 1}  # D
    assert rows[u3]["csat"] == {"score": None, "responses": 0}


def test_ai_usage_per_model(outcome: Outcome) -> None:
    report = outcome.get("ai-usage")
    rows = {row["model"]: row for row in report["items"]}
    assert list(rows) == [M2, M1]  # ordered by model id
    m1, m2 = rows[M1], rows[M2]
    assert (m1["calls"], m1["answers"], m1["no_answers"], m1["failures"]) == (3, 2, 1, 0)
    assert (m1["prompt_tokens"], m1["completion_tokens"], m1["cost_usd"]) == (270, 60, "0.0027")
    assert m1["latency"]["median_ms"] is not None
    assert (m2["calls"], m2["failures"], m2["failures_by_kind"]) == (
        1,
        1,
        {"model_unavailable": 1},
    )
    assert m2["cost_usd"] == "0"
    assert report["totals"]["calls"] == 4


def test_days_and_hours_follow_the_workspace_time_zone(outcome: Outcome) -> None:
    daily = outcome.get("timeseries", metric="conversations.bot_handled")
    assert [(p["period"], p["value"]) for p in daily["points"]] == [(DAY1, 3), (DAY2, 1)]
    assert daily["points"][0]["start"] == "2025-06-09T22:00:00.000Z"
    hourly = outcome.get("timeseries", metric="conversations.started", interval="hour")
    started = {p["period"]: p["value"] for p in hourly["points"] if p["value"]}
    assert started == {f"{DAY1}T{h}": 1 for h in ("09", "10", "13", "15", "16", "23")}
    assert hourly["points"][-1]["period"] == f"{DAY2}T12"  # the points stop at now
    day2 = outcome.get("overview", **{"from": DAY2, "to": DAY2})
    assert day2["conversations"]["bot_handled"] == 1 and day2["ai"]["calls"] == 1


def test_department_filter(outcome: Outcome) -> None:
    support = outcome.proof.departments["support"]
    figures = outcome.get("overview", department_id=support)
    # B and C went to Support (the flow's department); D to Billing; F has none.
    assert figures["conversations"]["handed_off"] == 2
    assert figures["conversations"]["resolved"] == 3
    assert figures["conversations"]["reopened"] == 1
    assert figures["conversations"]["started"] == 0  # nobody starts in a department
    assert within(figures["first_response"]["median_seconds"], 600)  # 269, 600, 1200
    assert figures["csat"]["responses"] == 1  # B
    assert figures["ai"]["calls"] == 4  # AI usage is workspace-wide


def test_the_writers_kept_the_inputs_on_the_stored_items(outcome: Outcome) -> None:
    p = outcome.proof
    table = p.stack.table("ConversationsTable")
    b = conversation_item(p.stack, p.ws, p.conversations["B"])
    u2 = p.team.members["u2"].user_id
    assert (b["cycle"], b["channel"], b["human_message_count"]) == (2, "widget", 3)
    assert b["cycle_started_at"] == "2025-06-10T09:00:00.000Z"  # 11:00 in Oslo
    assert b["cycle_agents"] == {u2} and b["cycle_first_response_by"] == u2
    assert b["csat_offered_at"] == "2025-06-10T08:30:31.000Z"  # the first resolve only
    assert b["bot_message_count"] == 3  # greeting (2) and the handoff message
    items = conversations.partition(table, p.ws, p.conversations["B"])
    moves = [
        (i["before"]["owner"], i["after"]["owner"], i["after"]["status"])
        for i in items
        if i["item_type"] == "transition"
    ]
    # handoff, claim, first reply, resolve, reopen, requeue, claim, resolve
    assert len(moves) == 8 and moves[0] == ("bot", "human", "open")
    a = conversation_item(p.stack, p.ws, p.conversations["A"])
    assert (a["cycle"], a["human_message_count"], a["status"]) == (0, 0, "resolved")


# ---------------------------------------------------------------- exactly once, and rebuilt


def figures(outcome: Outcome) -> dict[str, Any]:
    return {
        "overview": outcome.get("overview"),
        "support": outcome.get("overview", department_id=outcome.proof.departments["support"]),
        "agents": outcome.get("agents"),
        "ai": outcome.get("ai-usage"),
        "daily": outcome.get("timeseries", metric="first_response.median_seconds"),
        "hourly": outcome.get("timeseries", metric="conversations.resolved", interval="hour"),
    }


def test_redelivering_the_whole_stream_changes_nothing(outcome: Outcome) -> None:
    p = outcome.proof
    before = figures(outcome)
    stored = rollup_items(p.stack, p.ws)
    assert len(outcome.delivered) > 50
    # When every record is delivered again, in reverse order and in other batches
    records = copy.deepcopy(outcome.delivered[::-1])
    for start in range(0, len(records), 7):
        result = outcome.consumer.lambda_handler(
            {"Records": records[start : start + 7]}, LambdaContext()
        )
        assert result == {"batchItemFailures": []}
    # Then no figure and no stored rollup item moved
    assert figures(outcome) == before
    assert rollup_items(p.stack, p.ws) == stored


def test_the_backfill_rebuilds_the_same_rollups(outcome: Outcome, capsys: Any) -> None:
    p = outcome.proof
    before = figures(outcome)
    stored = rollup_items(p.stack, p.ws)
    table = p.stack.table("AnalyticsTable")
    # Given rollups that drifted: one item lost, one stale item that should not exist
    lost, *_ = stored
    from yoosr.store import aws, ddb

    aws.client("dynamodb").delete_item(TableName=table, Key=ddb.key(lost["pk"], lost["sk"]))
    ddb.put(table, {"pk": lost["pk"], "sk": "D#2025-06-01#messages", "c#sender_type=visitor": 9})
    assert figures(outcome) != before or rollup_items(p.stack, p.ws) != stored
    # When the backfill command rebuilds the workspace from its stored conversations
    code = backfill_analytics.main(
        [
            "--workspace",
            p.ws,
            "--workspaces-table",
            p.stack.table("WorkspacesTable"),
            "--conversations-table",
            p.stack.table("ConversationsTable"),
            "--analytics-table",
            table,
            "--privacy-requests-table",
            p.stack.table("PrivacyRequestsTable"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["conversations"] == 6 and report["timezone"] == ZONE
    assert report["items_deleted"] == 1
    # Then every rollup item is the one the consumer wrote, and every figure is back
    assert rollup_items(p.stack, p.ws) == stored
    assert figures(outcome) == before
