"""What a 30-day analytics overview reads, for a small and a large workspace.

Each workspace gets 30 days of support: conversations of ten messages each (a visitor, the
bot with a model call, a handoff, a claim, an agent's replies, a resolve and a rating; every
third conversation the bot closes itself, every third one is reopened and answered again),
spread over the days and hours. Their stream changes are counted by the core
(`events.increments` into a RollupBook) and stored with the backfill's writer, so the table
holds the day and hour rollups the consumer would have written (the integration proof shows
the two are item for item the same). Then the real analytics handler answers
`GET /v1/analytics/overview` for the 30 days, with a Meter on its DynamoDB client: requests,
items read and RCU, for 1,000 and for 100,000 messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from bench.capacity import Meter, schemas_from_template
from tests.support import HttpHandlerClient, load_function
from yoosr.analytics import events, history, inputs
from yoosr.analytics.events import StreamChange
from yoosr.analytics.rollup import Rollup, RollupBook
from yoosr.clock import iso
from yoosr.models.routing import ConversationState
from yoosr.routing import transitions as t

DAYS = 30
MESSAGES_PER_CONVERSATION = 10
AGENTS = ("user_ana", "user_ben", "user_cho", "user_dev", "user_eva")
DEPARTMENTS = ("dept_support", "dept_billing")
MODELS = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")


class _Conversation:
    """One conversation's stream, written the way the writers write it."""

    def __init__(self, ws: str, number: int, started: datetime) -> None:

        self.ws, self.id, self.at = ws, f"conv_{number:08d}", started
        self.messages = 0
        self.item: dict[str, Any] = {
            "item_type": "conversation",
            "workspace_id": ws,
            "conversation_id": self.id,
            "status": "open",
            "owner": "bot",
            "created_at": iso(started),
            "last_activity_at": iso(started),
            "csat_rating": None,
            **inputs.initial(iso(started)),
        }
        self.changes = [StreamChange("INSERT", None, dict(self.item), started)]

    def later(self, seconds: int) -> str:
        self.at += timedelta(seconds=seconds)
        return str(iso(self.at))

    def message(self, sender: str, seconds: int, **extra: Any) -> dict[str, Any]:
        now = self.later(seconds)
        self.messages += 1
        item = {
            "item_type": "message",
            "workspace_id": self.ws,
            "conversation_id": self.id,
            "message_id": f"msg_{self.id}_{self.messages:02d}",
            "sender_type": sender,
            "created_at": now,
            **extra,
        }
        self.changes.append(StreamChange("INSERT", None, item, self.at))
        return item

    def write(self, change: Callable[[Any, str], Any] | None, *written: dict[str, Any]) -> None:

        now = str(iso(self.at))
        before = ConversationState.of(self.item)
        after = change(before, now) if change else before
        new = history.with_state(self.item, after)
        new["last_activity_at"] = now
        new = inputs.for_write(self.item, after, now, list(written)).applied_to(new)
        self.changes.append(StreamChange("MODIFY", self.item, new, self.at))
        self.item = new

    def rate(self, rating: int, seconds: int) -> None:
        now = self.later(seconds)
        new = {**self.item, "csat_rating": rating, "csat_at": now}
        self.changes.append(StreamChange("MODIFY", self.item, new, self.at))
        self.item = new


def _conversation(ws: str, number: int, started: datetime) -> _Conversation:
    """Ten messages; the kind of conversation follows its number (each day sees every kind)."""

    c = _Conversation(ws, number, started)
    agent, dept = AGENTS[number % len(AGENTS)], DEPARTMENTS[number % len(DEPARTMENTS)]
    ai = {
        "outcome": "answer",
        "model": MODELS[number % len(MODELS)],
        "prompt_tokens": 400,
        "completion_tokens": 60,
        "cost_usd": "0.00009",
        "latency_ms": 900 + number % 700,
    }
    kind = number // DAYS % 3
    c.message("visitor", 0)
    c.write(None, c.message("bot", 2, ai=ai))
    c.message("visitor", 40)
    if kind == 1:  # the bot answers and closes: 10 messages
        for _ in range(3):
            c.write(None, c.message("bot", 2, ai=ai))
            c.message("visitor", 30)
        c.write(lambda s, now: t.resolve(s, "bot", now), c.message("bot", 2))
        c.rate(5, 60)
        return c
    arrival = f"arr_{number:08d}"
    c.write(lambda s, now: t.hand_off(s, dept, arrival, now, None), c.message("bot", 2))
    c.later(15 + number % 200)
    c.write(lambda s, now: t.claim(s, agent, now))
    first = c.message("agent", 60 + number % 900, agent_id=agent)
    c.write(t.first_response, first)
    c.message("visitor", 120)
    c.write(None, c.message("agent", 90 + number % 300, agent_id=agent))
    if kind == 0:  # 10 messages, one cycle
        c.message("visitor", 100)
        c.write(None, c.message("agent", 100, agent_id=agent))
        c.message("visitor", 60)
    c.later(600 + number % 3000)
    c.write(lambda s, now: t.resolve(s, agent, now))
    c.rate(1 + number % 5, 300)
    if kind == 2:  # the visitor comes back and the agent answers again: 10 messages
        c.write(lambda s, now: t.visitor_reopen(s), c.message("visitor", 1800))
        c.later(60)
        c.write(lambda s, now: t.assign(s, agent, now, None))
        c.write(None, c.message("agent", 240, agent_id=agent))
        c.message("visitor", 60)
        c.later(900)
        c.write(lambda s, now: t.resolve(s, agent, now))
    return c


def _rollups(ws: str, messages: int, first_day: date) -> tuple[list[Rollup], int]:

    book = RollupBook()
    written = 0
    conversations = max(1, messages // MESSAGES_PER_CONVERSATION)
    for number in range(conversations):
        day = first_day + timedelta(days=number % DAYS)
        second = (number * 7919) % (20 * 3600)  # spread over 04:00–24:00 UTC
        started = datetime(day.year, day.month, day.day, 4, tzinfo=UTC) + timedelta(seconds=second)
        conversation = _conversation(ws, number, started)
        written += conversation.messages
        seen: set[str] = set()
        for change in conversation.changes:
            book.apply(events.increments(change, "UTC"), seen)
    return [r for (w, _), r in book.rollups.items() if w == ws], written


def _token_env(endpoint: str, function_env: Mapping[str, str]) -> Any:
    from local.clerk import DevIssuer  # noqa: PLC0415

    issuer = DevIssuer.generate("https://clerk.bench.example")
    os.environ.update(function_env)
    os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "YOOSR_CLERK_ISSUER": issuer.issuer,
            "YOOSR_CLERK_PEM_PUBLIC_KEY": issuer.public_pem,
            "YOOSR_CLERK_JWKS_URL": "",
            "YOOSR_CLERK_AUTHORIZED_PARTIES": "",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return issuer


class _ItemCounter:
    """Items each Query returned (a Meter counts requests and capacity, not items)."""

    def __init__(self) -> None:
        self.items = 0

    def __call__(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            self.items += int(parsed.get("Count", len(parsed.get("Items", []))))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def measure(
    template: Any,
    resources: Any,
    endpoint: str,
    function_env: Mapping[str, str],
    log: Callable[[str], None],
    sizes: tuple[int, ...] = (1_000, 100_000),
) -> dict[str, Any]:
    """Per size: messages, rollup items stored, and the overview's requests, items, RCU."""
    with _quiet():
        issuer = _token_env(endpoint, function_env)
        from yoosr import ids  # noqa: PLC0415 - after the environment is set
        from yoosr.store import analytics as analytics_store  # noqa: PLC0415
        from yoosr.store import aws  # noqa: PLC0415

        # A client of its own: earlier measurements left their hooks on the shared one, and
        # the rollups written here must not go through them.
        aws.client.cache_clear()
        client = HttpHandlerClient(load_function("analytics").lambda_handler)
        tables = {
            logical_id: str(resources.ref(logical_id))
            for logical_id, resource in template.resources.items()
            if resource.get("Type") == "AWS::DynamoDB::Table"
        }
        last = datetime.now(UTC).date()
        first = last - timedelta(days=DAYS - 1)
        query = {"from": first.isoformat(), "to": last.isoformat()}
        workspaces: dict[int, tuple[str, int, int]] = {}
        for size in sizes:
            started = time.perf_counter()
            org_id = f"org_bench_{size}"
            rollups, messages = _rollups(ids.workspace_id_for_org(org_id), size, first)
            stored = analytics_store.replace(
                tables["AnalyticsTable"], ids.workspace_id_for_org(org_id), rollups
            )
            workspaces[size] = (org_id, messages, stored.written)
            log(
                f"analytics: {messages:,} messages → {stored.written:,} rollup items "
                f"({time.perf_counter() - started:.0f} s)"
            )
        # Only the overview requests are metered (the rollups were written unmetered).
        probe = boto3.Session().client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        meter = Meter(schemas_from_template(template.resources, tables), probe)
        counter = _ItemCounter()
        meter.attach(aws.client("dynamodb"))
        aws.client("dynamodb").meta.events.register("after-call.dynamodb", counter)
        rows: dict[str, Any] = {}
        for size, (org_id, messages, stored_items) in workspaces.items():
            token = issuer.mint(org_id, "user_admin", "admin")
            headers = {"authorization": f"Bearer {token}", "origin": "https://app.bench.example"}
            # The organization's first call provisions its workspace; measure the second.
            assert client.call("analytics_overview", headers=headers, query=query).status == 200
            before, items_before = meter.usage.copy(), counter.items
            response = client.call("analytics_overview", headers=headers, query=query)
            if response.status != 200:
                raise RuntimeError(f"overview answered {response.status}: {response.body}")
            spent = meter.usage.minus(before)
            rows[str(size)] = {
                "messages": messages,
                "conversations": response.json["conversations"]["started"],
                "rollup_items_stored": stored_items,
                "requests": dict(sorted(spent.requests.items())),
                "items_read": counter.items - items_before,
                "rcu": round(spent.rcu, 2),
            }
            read = rows[str(size)]["items_read"]
            log(f"analytics overview over {messages:,} messages: {read} items read")
    return {"days": DAYS, "sizes": rows}
