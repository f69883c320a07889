"""Quality suite 5 (issue 8): injected faults, one row of figures per fault.

Every fault runs through the real handlers on moto (the integration stack, built per module):
DynamoDB throttling on the widget's message write and in a stream consumer, conditional-check
races (two dispatchers on one queue, a handoff during a claim, a human taking over during the
bot's turn, simultaneous handoffs in threads on a moto server), OpenRouter failures, consumer
crashes before and after their side effect, poison stream records and queue messages, S3 errors
during an export. Stream consumers are fed as Lambda's event source mapping does (the local
stack's StreamPoller: retries, the on-failure DLQ), the privacy worker through its real queue
and DLQ (moto's redrive). For each: what was injected, visitor-visible 5xx (a retryable 503 in
the API.md shape with Retry-After is not one: the client retries it with the same client id),
eventual completion, duplicate effects, and what ended in the DLQ (only poison may).

Short variant (`make test`): a few records per fault. Long (`figures.LONG`): four times the
visitors, messages, conversations and crashes per fault, 200 threads in the race.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from local.resources import function_environment

# First: the integration conftest sets the fake AWS environment (the metrics namespace
# included) before any yoosr module is imported.
from tests.integration import conftest as integration
from tests.integration import privacy_support as ps
from tests.integration.analytics_support import rollup_items
from tests.integration.bot_support import (
    FakeOpenRouter,
    completion,
    decision,
    say,
    seed_demo,
    use_model,
)
from tests.integration.routing_support import put_department, put_online_agent
from tests.integration.test_assignment_concurrency import (
    at_once,
    hand_off,
    held,
    server_tables,  # noqa: F401 - the fixture
)
from tests.integration.test_bot_reply import at_question, bot_said
from tests.integration.widget_support import Visitor, conversation_item, stored_messages
from tests.quality import figures
from tests.quality.fault_support import (
    BOUND,
    CountingClient,
    EventSource,
    Injected,
    Outcome,
    aws_fault,
    aws_interleave,
    crash,
    dead_lettered,
    fault_stack,
    new_workspace,
    once_per,
    retryable,
)
from tests.support import LambdaContext, load_function
from yoosr import clock, ids
from yoosr.analytics import consumer as analytics_consumer
from yoosr.bot import reply
from yoosr.privacy import handlers as privacy_handlers
from yoosr.privacy import worker as privacy_worker
from yoosr.routing import dispatcher, handoff, transitions
from yoosr.routing import events as routing_events
from yoosr.routing.apply import apply_transition
from yoosr.store import assignment, conversations, ddb, keys, privacy_exports
from yoosr.store.assignment import Tables

SUITE = "faults"
SCALE = 4 if figures.LONG else 1


@pytest.fixture(scope="module")
def stack() -> Iterator[integration.Stack]:
    with fault_stack() as made:
        yield made


@pytest.fixture(scope="module")
def widget(stack: integration.Stack) -> CountingClient:
    return CountingClient(load_function("widget_ingest").lambda_handler)


@dataclass
class Env:
    stack: integration.Stack
    widget: CountingClient
    monkeypatch: pytest.MonkeyPatch

    def visitor(self, ws: dict[str, Any]) -> Visitor:
        v = Visitor(self.widget, ws["key"])
        v.start_session()
        return v


def post_until_stored(v: Visitor, conversation_id: str, text: str, client_id: str) -> int:
    """A widget client's retry loop: the same client id again after a retryable answer
    (429/503 in the API.md shape) or a lost answer; returns the attempts made."""
    for attempt in range(1, 6):
        response = v.post(conversation_id, text, client_id)
        if response.status in (200, 201):
            return attempt
        if not retryable(response) and response.status < 500:
            raise AssertionError(response.body)
    raise AssertionError("the message was never stored")


def message_effects(
    stack: integration.Stack, ws: str, conversation_id: str, client_ids: list[str]
) -> tuple[int, int]:
    """(client ids stored at least once, extra copies) among `client_ids`."""
    counts = Counter(
        m.get("client_message_id") for m in stored_messages(stack, ws, conversation_id)
    )
    completed = sum(1 for c in client_ids if counts[c] >= 1)
    duplicates = sum(max(0, counts[c] - 1) for c in client_ids)
    return completed, duplicates


# ---------------------------------------------------------------- DynamoDB throttling


def throttled_widget_write(
    code: str, times: int, *, after: bool = False
) -> Callable[[Env], Outcome]:
    """The widget's message write (TransactWriteItems) fails `times` times per message."""

    def case(env: Env) -> Outcome:
        ws = new_workspace(env.stack)
        v = env.visitor(ws)
        conversation_id = v.start_conversation("hello")
        env.widget.reset()
        sent = [str(uuid.uuid4()) for _ in range(3 * SCALE)]
        injected = 0
        for n, client_id in enumerate(sent):
            with aws_fault("dynamodb", {"TransactWriteItems"}, code, times, after=after) as fault:
                post_until_stored(v, conversation_id, f"message {n}", client_id)
            injected += fault.count
        completed, duplicates = message_effects(env.stack, ws["id"], conversation_id, sent)
        for answer in env.widget.retryables:  # a browser can read it: CORS, Retry-After
            assert answer.headers.get("access-control-allow-origin") == v.origin, answer.headers
            assert "retry-after" in answer.headers.get("access-control-expose-headers", "")
        listed = v.messages(conversation_id, limit="200")
        assert listed.status == 200, listed.body
        return Outcome(
            injected=injected,
            server_errors=len(env.widget.server_errors),
            retryable=len(env.widget.retryables),
            expected=len(sent),
            completed=completed,
            duplicates=duplicates,
        )

    return case


# ---------------------------------------------------------------- stream consumers


def inbox_consumer() -> Any:
    return load_function("inbox_events")


def unread_case(
    fault: Callable[[], contextlib.AbstractContextManager[Injected]],
    *,
    poison: bool = False,
) -> Callable[[Env], Outcome]:
    """Visitor messages through the unread counter (inbox_events) under `fault`; each message
    must raise its conversation's unread count exactly once."""

    def case(env: Env) -> Outcome:
        source = EventSource(env.stack, "InboxEventsFunction", inbox_consumer().lambda_handler)
        ws = new_workspace(env.stack)
        env.widget.reset()
        per_conversation = 3 * SCALE
        conversation_ids = []
        for _ in range(2 * SCALE):
            v = env.visitor(ws)  # a visitor per conversation: under the session's rate limit
            conversation_id = v.start_conversation("message 0")
            for n in range(1, per_conversation):
                assert v.post(conversation_id, f"message {n}").status == 201
            conversation_ids.append(conversation_id)
        records = source.pending()
        assert len(records) == len(conversation_ids) * per_conversation
        poisoned: list[str] = []
        if poison:  # one record in the middle of the batch: its image lost its workspace
            bad = records[len(records) // 2]
            del bad["dynamodb"]["NewImage"]["workspace_id"]
            poisoned.append(bad["dynamodb"]["SequenceNumber"])
        with fault() as injected:
            source.deliver(records)
        if poison:
            injected.count += 1
        notices = source.dead_letters()
        first, covered = dead_lettered(notices, records)
        expected = completed = duplicates = 0
        for conversation_id in conversation_ids:
            item = conversation_item(env.stack, ws["id"], conversation_id)
            messages = stored_messages(env.stack, ws["id"], conversation_id)
            want = sum(
                1
                for m in messages
                if m["sender_type"] == "visitor"
                and not any(
                    r["dynamodb"]["SequenceNumber"] in poisoned
                    and r["dynamodb"]["NewImage"]["message_id"]["S"] == m["message_id"]
                    for r in records
                )
            )
            unread = int(item.get("unread_by_agents", 0))
            expected += want
            completed += min(unread, want)
            duplicates += max(0, unread - want)
        outcome = Outcome(
            injected=injected.count,
            server_errors=len(env.widget.server_errors),
            expected=expected,
            completed=completed,
            duplicates=duplicates,
            dead=first,
            poison=poisoned,
        )
        outcome.notes.append(
            f"{source.item_failures} partial batch item failures, "
            f"{source.failed_invocations} failed invocations"
        )
        if covered:
            outcome.notes.append(f"the DLQ notice's range also names {covered} later records, done")
        if not poison:
            assert source.item_failures >= 1 and source.failed_invocations == 0
        return outcome

    return case


def throttle(code: str, times: int) -> Callable[[], contextlib.AbstractContextManager[Injected]]:
    return lambda: aws_fault("dynamodb", {"TransactWriteItems"}, code, times)


def crash_unread(when: str) -> Callable[[], contextlib.AbstractContextManager[Injected]]:
    return lambda: crash(conversations, "count_unread", when=when, times=SCALE, pass_first=1)


def no_fault() -> contextlib.AbstractContextManager[Injected]:
    return contextlib.nullcontext(Injected())


# ---------------------------------------------------------------- routing


def consumer_of(
    stack: integration.Stack, function_logical_id: str, folder: str, **overrides: str
) -> Any:
    """A function's module, imported with the environment the template gives it."""
    env = function_environment(stack.resources.template, function_logical_id, stack.resources)
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    os.environ.update({**env, **overrides})
    return load_function(folder)


def routing_consumer(stack: integration.Stack) -> Any:
    return consumer_of(stack, "AgentRoutingEventsFunction", "agent_routing_events")


def routing_workspace(
    stack: integration.Stack | Tables, agents: int, capacity: int
) -> tuple[Tables, str, str, list[str]]:
    """A workspace with one department and `agents` online agents of `capacity` (written
    directly, as test_assignment_concurrency does); returns (tables, ws, department, agents)."""
    if isinstance(stack, Tables):
        tables = stack
        ws = ids.workspace_id_for_org(f"org_fault_{ids.ulid()}")
    else:
        tables = Tables(stack.table("WorkspacesTable"), stack.table("ConversationsTable"))
        ws = new_workspace(stack)["id"]
    department_id = ids.new_id("dept")
    put_department(tables.workspaces, ws, department_id)
    users = [f"user_fault{uuid.uuid4().hex[:8]}" for _ in range(agents)]
    for user_id in users:
        put_online_agent(tables.workspaces, ws, user_id, [department_id], capacity)
    return tables, ws, department_id, users


def waiting_conversations(tables: Tables, ws: str, department_id: str, count: int) -> list[str]:
    """`count` bot conversations whose visitors asked for a human (queued, not dispatched)."""
    made = []
    for _ in range(count):
        item = conversations.conversation_item(
            ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
        )
        ddb.put(tables.conversations, item)
        handoff.request_human(tables, ws, item, department_id, None, "visitor")
        made.append(item["conversation_id"])
    return made


def assignment_effects(
    tables: Tables, ws: str, department_id: str, conversation_ids: list[str], users: list[str]
) -> tuple[int, int, int]:
    """(conversations assigned, conversations still waiting, duplicate effects): an agent's
    load above what it holds, a conversation both held and queued, or queued twice."""
    holders = held(tables, ws, conversation_ids)
    assigned = {c: h for c, h in holders.items() if h}
    queue = assignment.queue_head(tables.conversations, ws, department_id, 1000, None)
    queued = Counter(e["conversation_id"] for e in queue)
    duplicates = sum(n - 1 for n in queued.values() if n > 1)
    duplicates += sum(1 for c in assigned if queued[c])
    for user_id in users:
        agent = assignment.agent(tables.workspaces, ws, user_id) or {}
        holding = sum(1 for h in assigned.values() if h == user_id)
        duplicates += abs(int(agent.get("open_count", 0)) - holding)
        duplicates += max(0, holding - int(agent.get("capacity", 0)))
    return len(assigned), sum(queued.values()), duplicates


def routing_case(when: str) -> Callable[[Env], Outcome]:
    """Handoffs through the routing consumer, which crashes before / after assigning."""

    def case(env: Env) -> Outcome:
        consumer = routing_consumer(env.stack)
        source = EventSource(env.stack, "AgentRoutingEventsFunction", consumer.lambda_handler)
        count = 3 * SCALE
        tables, ws, department_id, users = routing_workspace(env.stack, 2, count)
        conversation_ids = waiting_conversations(tables, ws, department_id, count)
        with crash(routing_events, "handle", when=when, times=SCALE) as injected:
            source.drain()
        assigned, waiting, duplicates = assignment_effects(
            tables, ws, department_id, conversation_ids, users
        )
        first, _ = dead_lettered(source.dead_letters(), [])
        return Outcome(
            injected=injected.count,
            expected=count,
            completed=assigned,
            duplicates=duplicates + waiting,
            dead=first,
            notes=[f"{source.item_failures} partial batch item failures"],
        )

    return case


def dispatch_race(env: Env) -> Outcome:
    """Two dispatchers on one queue: the second runs to the end inside the first's claim
    (between its reads and its conditional write), again and again."""
    slots = 2 * SCALE
    tables, ws, department_id, users = routing_workspace(env.stack, 1, slots)
    conversation_ids = waiting_conversations(tables, ws, department_id, slots + 2)
    queue_key = assignment.queue_key_of(department_id)
    second = [0]

    def other_dispatcher() -> None:
        second[0] += dispatcher.dispatch_queue(tables, ws, queue_key)

    with aws_interleave("dynamodb", "TransactWriteItems", other_dispatcher, times=slots) as raced:
        first = dispatcher.dispatch_queue(tables, ws, queue_key)
    assigned, waiting, duplicates = assignment_effects(
        tables, ws, department_id, conversation_ids, users
    )
    return Outcome(
        injected=raced.count,
        expected=slots,
        completed=assigned,
        duplicates=duplicates + max(0, first + second[0] - assigned) + abs(waiting - 2),
        notes=[f"claims: first dispatcher {first}, second {second[0]}; {waiting} still waiting"],
    )


def handoff_race(env: Env) -> Outcome:
    """A visitor's handoff and a dispatcher at once, each followed by its own dispatch
    (test_assignment_concurrency's hand_off), interleaved inside every claim."""
    count = 2 * SCALE
    tables, ws, department_id, users = routing_workspace(env.stack, 2, count)
    conversation_ids = waiting_conversations(tables, ws, department_id, count)
    queue_key = assignment.queue_key_of(department_id)
    late = conversations.conversation_item(
        ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
    )
    ddb.put(tables.conversations, late)
    conversation_ids.append(late["conversation_id"])

    def visitor_hands_off() -> None:
        hand_off(tables, ws, {**late, "department_id": department_id})

    with aws_interleave("dynamodb", "TransactWriteItems", visitor_hands_off) as raced:
        dispatcher.dispatch_queue(tables, ws, queue_key)
    dispatcher.dispatch_queue(tables, ws, queue_key)
    assigned, waiting, duplicates = assignment_effects(
        tables, ws, department_id, conversation_ids, users
    )
    return Outcome(
        injected=raced.count,
        expected=len(conversation_ids),
        completed=assigned,
        duplicates=duplicates + waiting,
    )


# ---------------------------------------------------------------- the bot

HANDOFF_TEXT = "Let me connect you with someone from our team."


def bot_consumer(stack: integration.Stack) -> Any:
    # No burst wait (as tests/integration/bot_support.configure_bot_env): the records are
    # delivered after every message of the burst is stored.
    return consumer_of(stack, "BotReplyEventsFunction", "bot_reply_events", YOOSR_BURST_SECONDS="0")


_MODEL: dict[int, tuple[FakeOpenRouter, Any]] = {}


def model(env: Env, respond: Callable[[httpx.Request], httpx.Response]) -> FakeOpenRouter:
    """The bot consumer's model port pointed at a scripted OpenRouter answering `respond`
    (bot_support.use_model, built once per stack: a port's HTTP client is slow to make)."""
    bot = bot_consumer(env.stack)
    key = id(env.stack)
    if key not in _MODEL:
        fake = FakeOpenRouter(respond)
        with pytest.MonkeyPatch.context() as patch:
            use_model(patch, bot, fake)
            _MODEL[key] = (fake, bot.ai)
    fake, port = _MODEL[key]
    fake.respond = respond
    fake.requests.clear()
    env.monkeypatch.setattr(bot, "ai", port)
    return fake


def bot_workspace(env: Env) -> tuple[Any, EventSource, dict[str, Any]]:
    bot = bot_consumer(env.stack)
    source = EventSource(env.stack, "BotReplyEventsFunction", bot.lambda_handler)
    ws = new_workspace(env.stack)
    seed_demo(env.stack, ws["id"])
    return bot, source, ws


def model_fault(respond: Callable[[httpx.Request], httpx.Response]) -> Callable[[Env], Outcome]:
    """OpenRouter fails on the bot's AI step; the batch is delivered twice (at least once).
    The visitor must get exactly one answer: the polite handoff, queued for a human."""

    def case(env: Env) -> Outcome:
        bot, source, ws = bot_workspace(env)
        fake = model(env, respond)
        env.widget.reset()
        outcome = Outcome()
        for _ in range(SCALE):
            guest = env.visitor(ws)
            conversation_id = at_question(guest, source.tap, bot)
            before = len(bot_said(env.stack, ws["id"], conversation_id))
            say(guest, conversation_id, "Do you ship to Norway?")
            records = source.pending()
            source.deliver(records)
            source.deliver(records)  # redelivered: at least once
            answers = bot_said(env.stack, ws["id"], conversation_id)[before:]
            item = conversation_item(env.stack, ws["id"], conversation_id)
            listed = guest.messages(conversation_id)
            assert listed.status == 200, listed.body
            outcome.expected += 1
            if (
                answers
                and answers[0]["text"] == HANDOFF_TEXT
                and item["owner"] == "human"
                and item.get("queue_sk")
            ):
                outcome.completed += 1
            outcome.duplicates += max(0, len(answers) - 1)
        outcome.injected = len(fake.requests)
        outcome.server_errors = len(env.widget.server_errors)
        outcome.dead, _ = dead_lettered(source.dead_letters(), [])
        return outcome

    return case


def http_error(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, json={"error": {"code": status, "message": "x"}})


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("injected timeout", request=request)


def error_in_200(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"error": {"code": 502, "message": "provider down"}})


def bot_crash(when: str) -> Callable[[Env], Outcome]:
    """The bot's turn crashes before / after writing its messages; redelivery completes it
    once: the greeting and the menu, one turn."""

    def case(env: Env) -> Outcome:
        _, source, ws = bot_workspace(env)
        env.widget.reset()
        started = []
        for _ in range(2 * SCALE):
            guest = env.visitor(ws)
            started.append(guest.start_conversation(text="How long does shipping take?"))
        with crash(reply, "take_turn", when=when, times=SCALE) as injected:
            source.drain()
        outcome = Outcome(injected=injected.count, server_errors=len(env.widget.server_errors))
        for conversation_id in started:
            said = bot_said(env.stack, ws["id"], conversation_id)
            turns = conversation_item(env.stack, ws["id"], conversation_id).get("bot_turns", 0)
            texts = [m["text"] for m in said]
            outcome.expected += 1
            outcome.completed += int(texts[:2] == [m["text"] for m in GREETING] and turns >= 1)
            outcome.duplicates += max(0, len(said) - 2) + max(0, int(turns) - 1)
        outcome.dead, _ = dead_lettered(source.dead_letters(), [])
        outcome.notes.append(f"{source.item_failures} partial batch item failures")
        return outcome

    return case


GREETING = [{"text": "Hi! I'm the Acme Outdoor assistant."}, {"text": "What can I help you with?"}]


def bot_takeover_race(env: Env) -> Outcome:
    """A human takes the conversation while the model is answering (the conditional write of
    the bot's turn meets the assignment): the bot says nothing more, the agent holds it."""
    bot, source, ws = bot_workspace(env)
    tables = Tables(env.stack.table("WorkspacesTable"), env.stack.table("ConversationsTable"))
    env.widget.reset()
    outcome = Outcome()
    for _ in range(SCALE):
        guest = env.visitor(ws)
        conversation_id = at_question(guest, source.tap, bot)
        agent_id = "user_agent_" + uuid.uuid4().hex[:8]
        ddb.put(
            tables.workspaces,
            {"pk": ws["id"], "sk": f"AGENT#{agent_id}", "item_type": "agent", "open_count": 0},
        )

        def agent_takes_over(
            _: httpx.Request, conversation_id: str = conversation_id, agent_id: str = agent_id
        ) -> httpx.Response:
            now = clock.iso()
            apply_transition(
                tables,
                ws["id"],
                conversation_id,
                lambda state, _item: transitions.assign(state, agent_id, now, None),
            )
            return httpx.Response(200, json=completion(decision("Shipping takes 3-5 days.")))

        fake = model(env, agent_takes_over)
        before = len(bot_said(env.stack, ws["id"], conversation_id))
        say(guest, conversation_id, "How long does shipping take?")
        records = source.pending()
        source.deliver(records)
        source.deliver(records)
        outcome.injected += len(fake.requests)
        after = len(bot_said(env.stack, ws["id"], conversation_id))
        item = conversation_item(env.stack, ws["id"], conversation_id)
        agent = ddb.get(tables.workspaces, ws["id"], f"AGENT#{agent_id}") or {}
        outcome.expected += 1
        outcome.completed += int(
            (item["owner"], item.get("assignee_id")) == ("human", agent_id)
            and "queue_sk" not in item
        )
        outcome.duplicates += (after - before) + abs(int(agent.get("open_count", 0)) - 1)
    outcome.server_errors = len(env.widget.server_errors)
    outcome.dead, _ = dead_lettered(source.dead_letters(), [])
    return outcome


# ---------------------------------------------------------------- analytics


def counters(items: list[dict[str, Any]], ws: str) -> dict[str, float]:
    """Every number of a workspace's rollup items, by item and path (workspace id removed)."""
    flat: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            flat[prefix] = value
        elif isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(f"{prefix}[{i}]", inner)

    for item in items:
        name = str(item["sk"]).replace(ws, "WS")
        for key, value in item.items():
            if key not in ("pk", "sk", "expires_at", "updated_at"):
                walk(f"{name}/{key}", value)
    return flat


def analytics_crash(when: str) -> Callable[[Env], Outcome]:
    """Two twin workspaces get the same visitors' conversations at the same (frozen) moment;
    the analytics consumer counts one cleanly and crashes before / after counting in the
    other. Every rollup figure of the two must match: nothing lost, nothing counted twice."""

    def case(env: Env) -> Outcome:
        events_module = consumer_of(env.stack, "AnalyticsEventsFunction", "analytics_events")
        analytics_consumer.forget_timezones()
        source = EventSource(env.stack, "AnalyticsEventsFunction", events_module.lambda_handler)
        twins = [new_workspace(env.stack), new_workspace(env.stack)]
        env.widget.reset()
        moment = clock.epoch_float()
        clock.freeze(lambda: moment)
        try:
            for ws in twins:
                for n in range(2 * SCALE):
                    v = env.visitor(ws)
                    conversation_id = v.start_conversation(f"question {n}")
                    assert v.post(conversation_id, "and another thing").status == 201
        finally:
            clock.unfreeze()
        records = source.pending()
        clean = [r for r in records if twins[0]["id"] in json.dumps(r["dynamodb"]["Keys"])]
        faulted = [r for r in records if twins[1]["id"] in json.dumps(r["dynamodb"]["Keys"])]
        source.deliver(clean)
        with crash(analytics_consumer, "record", when=when, times=2 * SCALE, pass_first=1) as hit:
            source.deliver(faulted)
        want = counters(rollup_items(env.stack, twins[0]["id"]), twins[0]["id"])
        got = counters(rollup_items(env.stack, twins[1]["id"]), twins[1]["id"])
        assert want, "the clean twin counted nothing"
        outcome = Outcome(
            injected=hit.count,
            server_errors=len(env.widget.server_errors),
            expected=len(want),
            completed=sum(1 for k, v in want.items() if got.get(k, 0) >= v),
            duplicates=sum(1 for k, v in got.items() if v > want.get(k, 0)),
        )
        outcome.dead, _ = dead_lettered(source.dead_letters(), [])
        outcome.notes.append(f"{len(want)} rollup figures compared with a clean twin")
        return outcome

    return case


# ---------------------------------------------------------------- privacy jobs (SQS)

_PRIVACY: dict[int, ps.Apps] = {}


def privacy_apps(stack: integration.Stack) -> ps.Apps:
    """The privacy functions (privacy_support.apps), configured once per stack."""
    if id(stack) not in _PRIVACY:
        _PRIVACY[id(stack)] = ps.apps(stack)
    return _PRIVACY[id(stack)]


def package_objects(stack: integration.Stack, ws: str, request_id: str) -> list[str]:
    return sorted(ps.bucket_objects(stack, f"{ws}/{request_id}/"))


def status_of(stack: integration.Stack, ws: str, request_id: str) -> str:
    item = ps.request_item(stack, ws, request_id)
    return str((item or {}).get("status"))


def export_case(
    fault: Callable[[], contextlib.AbstractContextManager[Injected]],
) -> Callable[[Env], Outcome]:
    """Visitors' exports through the worker (PrivacyJobsQueue, redelivered after a failure,
    maxReceiveCount 3 → PrivacyJobsDLQ) under `fault`. Each must end `completed` with exactly
    one package holding every message once, and is never `completed` without its package."""

    def case(env: Env) -> Outcome:
        apps = privacy_apps(env.stack)
        org = ps.Org(env.stack, apps)
        env.widget.reset()
        dlq_bodies(env.stack)  # start from an empty DLQ
        exports: list[tuple[str, int]] = []
        for n in range(SCALE):
            v = ps.visitor(env.stack, apps, env.widget, org)
            conversation_id = v.start_conversation(f"export me {n}")
            assert v.post(conversation_id, "and this").status == 201
            asked = v.ask({"type": "export"})
            assert asked.status == 201, asked.body
            exports.append((asked.json["id"], 2))
        early: list[str] = []

        def check_package() -> None:  # after every invocation
            for request_id, _ in exports:
                key = privacy_exports.package_key(org.ws, request_id)
                completed = status_of(env.stack, org.ws, request_id) == "completed"
                if completed and key not in package_objects(env.stack, org.ws, request_id):
                    early.append(request_id)

        with fault() as injected:
            invocations = ps.jobs(env.stack).deliver(
                apps.worker.lambda_handler, after=check_package
            )
        dead = [json.loads(b)["request_id"] for b in dlq_bodies(env.stack)]
        outcome = Outcome(
            injected=injected.count,
            server_errors=len(env.widget.server_errors),
            dead=dead,
        )
        for request_id, messages in exports:
            outcome.expected += 1
            detail = org.get(request_id)
            assert detail.status == 200, detail.body
            objects = package_objects(env.stack, org.ws, request_id)
            key = privacy_exports.package_key(org.ws, request_id)
            if detail.json["status"] == "completed" and key in objects:
                archive = zipfile.ZipFile(io.BytesIO(ps.bucket_objects(env.stack, key)[key]))
                document = json.loads(archive.read("data.json"))
                stored = document["entities"]["messages"]
                ids_ = [m["message_id"] for m in stored]
                outcome.completed += int(len(set(ids_)) == messages)
                outcome.duplicates += len(ids_) - len(set(ids_))
            outcome.duplicates += max(0, len(objects) - 1)
            audit = [e["action"] for e in detail.json["audit"]]
            outcome.duplicates += max(0, audit.count("complete") - 1)
        outcome.duplicates += len(early)
        outcome.notes.append(f"{invocations} worker invocations")
        if early:
            outcome.notes.append(f"{len(early)} completed before their package")
        return outcome

    return case


def dlq_bodies(stack: integration.Stack) -> list[str]:
    """Every message waiting in PrivacyJobsDLQ (consumed: the DLQ is emptied)."""
    queue = ps.dead_letters(stack)
    bodies: list[str] = []
    while True:
        messages = queue.receive(10)
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def s3_fault(operations: set[str], code: str, status: int) -> Callable[[], Any]:
    # Each object's write fails once (a message meets at most two: the third receive of
    # maxReceiveCount 3 would go on to the DLQ).
    return lambda: aws_fault("s3", operations, code, 2 * SCALE, status=status, when=once_per("Key"))


def worker_crash(when: str) -> Callable[[], Any]:
    return lambda: crash(privacy_worker, "run", when=when, times=2 * SCALE, pass_first=1)


def poison_jobs(env: Env) -> Outcome:
    """A poison task (its eraser fails every time), a malformed message and good exports in
    the same queue: the poison ends in PrivacyJobsDLQ, its request is marked `failed` by the
    DLQ's consumer (never `completed`); the exports complete."""
    apps = privacy_apps(env.stack)
    org = ps.Org(env.stack, apps)
    env.widget.reset()
    dlq_bodies(env.stack)  # start from an empty DLQ
    doomed = ps.visitor(env.stack, apps, env.widget, org)
    doomed.start_conversation("erase me")
    erase = org.create({"type": "delete", "subject": {"visitor_id": doomed.visitor_id}})
    assert erase.status == 201, erase.body
    erase_id = erase.json["id"]
    exports = []
    for n in range(SCALE):
        v = ps.visitor(env.stack, apps, env.widget, org)
        v.start_conversation(f"keep me {n}")
        exports.append(v.ask({"type": "export"}).json["id"])
    queue = ps.jobs(env.stack)
    malformed = json.dumps({"workspace_id": org.ws, "request_id": "not-a-request"})
    queue.client.send_message(QueueUrl=queue.url, MessageBody=malformed)

    def poison(job: Any, task: Any) -> Any:
        raise RuntimeError("poison")

    env.monkeypatch.setitem(privacy_handlers.ERASERS, "conversations.messages", poison)
    ps.run_jobs(env.stack, apps)
    # The DLQ's consumer (PrivacyFailuresFunction): once over what is there; what it cannot
    # handle stays in the DLQ.
    dlq = ps.dead_letters(env.stack)
    messages = dlq.receive(10)
    records = [ps.lambda_sqs_record(m, dlq.arn, "us-east-1") for m in messages]
    result = apps.failures.lambda_handler({"Records": records}, LambdaContext())
    failed_ids = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for message, record in zip(messages, records, strict=True):
        if record["messageId"] not in failed_ids:
            dlq.client.delete_message(QueueUrl=dlq.url, ReceiptHandle=message["ReceiptHandle"])
    left = [json.loads(b).get("request_id") for b in dlq_bodies(env.stack)]
    dead = [json.loads(m["Body"]).get("request_id") for m in messages]
    outcome = Outcome(
        injected=2,
        server_errors=len(env.widget.server_errors),
        dead=[d if d in (erase_id, "not-a-request") else f"good:{d}" for d in dead],
        poison=[erase_id, "not-a-request"],
    )
    erased = org.get(erase_id).json
    outcome.expected += 1  # the poison request ends failed, never completed
    outcome.completed += int(erased["status"] == "failed" and erased["completed_at"] is None)
    for request_id in exports:
        outcome.expected += 1
        outcome.completed += int(status_of(env.stack, org.ws, request_id) == "completed")
        outcome.duplicates += max(0, len(package_objects(env.stack, org.ws, request_id)) - 1)
    outcome.notes.append(
        f"poison request marked {erased['status']}; still in the DLQ: {len(left)} (malformed)"
    )
    assert left == ["not-a-request"], left
    return outcome


# ---------------------------------------------------------------- the table

CASES: list[tuple[str, str, Callable[[Env], Outcome]]] = [
    (
        "ddb-throttle-widget-write-pte",
        "DynamoDB throttling (ProvisionedThroughputExceeded) on the widget message write",
        throttled_widget_write("ProvisionedThroughputExceededException", 1),
    ),
    (
        "ddb-throttle-widget-write-throttling",
        "DynamoDB throttling (ThrottlingException) on the widget message write",
        throttled_widget_write("ThrottlingException", 1),
    ),
    (
        "ddb-throttle-widget-write-cancelled",
        "DynamoDB transaction cancelled by throttling, past the store's retries",
        throttled_widget_write("TransactionCanceledException", 5),
    ),
    (
        "ddb-widget-write-answer-lost",
        "DynamoDB message write stored, its answer lost (InternalServerError)",
        throttled_widget_write("InternalServerError", 1, after=True),
    ),
    (
        "ddb-throttle-inbox-consumer",
        "DynamoDB throttling in a stream consumer (inbox_events)",
        unread_case(throttle("ProvisionedThroughputExceededException", 2 * SCALE)),
    ),
    (
        "race-two-dispatchers",
        "Conditional-check race: two dispatchers claim from one queue",
        dispatch_race,
    ),
    (
        "race-handoff-vs-dispatch",
        "Conditional-check race: a handoff lands during a dispatcher's claim",
        handoff_race,
    ),
    (
        "crash-before-inbox",
        "Consumer crash before its side effect: inbox_events",
        unread_case(crash_unread("before")),
    ),
    (
        "crash-after-inbox",
        "Consumer crash after its side effect: inbox_events",
        unread_case(crash_unread("after")),
    ),
    (
        "crash-before-routing",
        "Consumer crash before its side effect: agent_routing_events",
        routing_case("before"),
    ),
    (
        "crash-after-routing",
        "Consumer crash after its side effect: agent_routing_events",
        routing_case("after"),
    ),
    (
        "poison-stream-record",
        "Poison stream record (inbox_events): DLQ notice, the rest of the batch completes",
        unread_case(no_fault, poison=True),
    ),
    (
        "race-bot-vs-human",
        "Conditional-check race: a human takes over during the bot's turn",
        bot_takeover_race,
    ),
    ("openrouter-429", "OpenRouter 429 (rate limited)", model_fault(http_error(429))),
    ("openrouter-402", "OpenRouter 402 (no credits)", model_fault(http_error(402))),
    ("openrouter-500", "OpenRouter 500", model_fault(http_error(500))),
    ("openrouter-502", "OpenRouter 502 (model down)", model_fault(http_error(502))),
    ("openrouter-timeout", "OpenRouter timeout", model_fault(timeout)),
    ("openrouter-200-error", "OpenRouter 200 with an error body", model_fault(error_in_200)),
    (
        "crash-before-bot",
        "Consumer crash before its side effect: bot_reply_events",
        bot_crash("before"),
    ),
    (
        "crash-after-bot",
        "Consumer crash after its side effect: bot_reply_events",
        bot_crash("after"),
    ),
    (
        "crash-before-analytics",
        "Consumer crash before its side effect: analytics_events",
        analytics_crash("before"),
    ),
    (
        "crash-after-analytics",
        "Consumer crash after its side effect: analytics_events",
        analytics_crash("after"),
    ),
    (
        "crash-before-privacy-worker",
        "Consumer crash before its side effect: privacy worker (SQS)",
        export_case(worker_crash("before")),
    ),
    (
        "crash-after-privacy-worker",
        "Consumer crash after its side effect: privacy worker (SQS)",
        export_case(worker_crash("after")),
    ),
    (
        "s3-error-export-parts",
        "S3 errors during export: PutObject (export parts) SlowDown",
        export_case(s3_fault({"PutObject"}, "SlowDown", 503)),
    ),
    (
        "s3-error-export-package",
        "S3 errors during export: UploadPart / CompleteMultipartUpload (the package)",
        export_case(s3_fault({"UploadPart", "CompleteMultipartUpload"}, "InternalError", 500)),
    ),
    (
        "poison-sqs-message",
        "Poison queue messages (privacy jobs): DLQ, request marked failed, the rest completes",
        poison_jobs,
    ),
]


@pytest.mark.parametrize(("title", "case"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fault(
    stack: integration.Stack,
    widget: CountingClient,
    monkeypatch: pytest.MonkeyPatch,
    title: str,
    case: Callable[[Env], Outcome],
) -> None:
    record_row(title, case(Env(stack, widget, monkeypatch)))


_verdicts: dict[str, bool] = {}


def record_row(title: str, outcome: Outcome) -> None:
    """One fault's row, the running count of rows within bounds, then the bounds asserted."""
    problems = outcome.problems()
    figures.record(SUITE, title, outcome.row(), bound=BOUND, ok=not problems)
    _verdicts[title] = not problems
    figures.record(
        SUITE,
        "faults meeting every bound",
        f"{sum(_verdicts.values())}/{len(_verdicts)}",
        bound="all",
        ok=all(_verdicts.values()),
    )
    assert not problems, f"{title}: {problems}"


def test_an_aws_error_that_is_a_bug_stays_a_500_in_the_error_shape(
    stack: integration.Stack, widget: CountingClient
) -> None:
    """Only weather (throttling, timeouts, AWS-side errors) becomes a retryable 503; a request
    AWS refuses as malformed is our bug and must stay visible as one."""
    ws = new_workspace(stack)
    v = Visitor(widget, ws["key"])
    v.start_session()
    conversation_id = v.start_conversation("hello")
    with aws_fault("dynamodb", {"TransactWriteItems"}, "ValidationException", 1):
        response = v.post(conversation_id, "refused")
    assert (response.status, response.error_code) == (500, "internal_error"), response.body


def test_a_consumer_that_counts_twice_fails_its_row(
    stack: integration.Stack, widget: CountingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite has teeth: an unread counter without its idempotency marker, crashed after
    its write and redelivered, shows up as duplicate effects (and the row fails)."""

    def counts_every_time(table: str, ws: str, conversation_id: str, _message_id: str) -> bool:
        ddb.update(
            table,
            *keys.conversation(ws, conversation_id),
            "ADD unread_by_agents :one",
            vals=ddb.values(one=1),
        )
        return True

    monkeypatch.setattr(conversations, "count_unread", counts_every_time)
    outcome = unread_case(crash_unread("after"))(Env(stack, widget, monkeypatch))
    assert outcome.duplicates >= 1, outcome.row()
    assert any("duplicate" in p for p in outcome.problems())


# The last test of the module, on purpose: test_assignment_concurrency's `server_tables` points
# yoosr's DynamoDB client at a moto server of its own until the module ends.


def test_simultaneous_handoffs_race_on_a_moto_server(server_tables: Tables) -> None:  # noqa: F811
    """Conditional-check races under real concurrency (threads on a moto server, whose every
    request is atomic as in DynamoDB): visitors ask for a human at the same moment, each
    followed by its dispatch (test_assignment_concurrency's harness, at this suite's scale)."""
    count, agents, capacity = (200, 5, 3) if figures.LONG else (24, 2, 3)
    tables, ws, department_id, users = routing_workspace(server_tables, agents, capacity)
    waiting = []
    for _ in range(count):
        item = conversations.conversation_item(
            ws, ids.new_id("conv"), ids.new_id("vis"), clock.iso(), None, owner="bot"
        )
        ddb.put(tables.conversations, item)
        waiting.append(item)
    errors: list[str] = []

    def hands_off(conversation: dict[str, Any]) -> None:
        try:
            hand_off(tables, ws, conversation)
        except Exception as error:  # what the visitor's request would have answered 5xx for
            errors.append(type(error).__name__)

    at_once([lambda c=c: hands_off(c) for c in waiting])
    conversation_ids = [c["conversation_id"] for c in waiting]
    assigned, queued, duplicates = assignment_effects(
        tables, ws, department_id, conversation_ids, users
    )
    slots = agents * capacity
    outcome = Outcome(
        injected=count,
        server_errors=len(errors),
        expected=slots,
        completed=assigned,
        duplicates=duplicates + abs(queued - (count - slots)),
        notes=[f"{count} threads at once into {slots} slots; {queued} waiting in line"],
    )
    record_row("Conditional-check race under threads: simultaneous handoffs (moto server)", outcome)
