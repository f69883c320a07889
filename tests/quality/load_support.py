"""Load without loss (issue 8, suite 4): many widget visitors of several workspaces talk to a
running local stack at once, then a checker reads every conversation back.

The load (`run_load`): each visitor is a browser of its own (its own loopback source address,
127.x.y.z, so the per-IP limit is per visitor as in production), starts a session, starts a
conversation with its first message and sends its messages in *bursts*: a few messages in
quick succession, then it waits for the bot's reply (polling the message list) before the next
burst, as a person in the widget does. Every message has a client id (`client_message_id`, and
`client_conversation_id` for the start). A share of the messages is sent again with the same
client id: some after their 2xx (a replay, which must answer 200 with the same message), some
after a simulated timeout (the client gives up after a few milliseconds, before the answer, and
sends the identical request again). A 429 is honoured: the client waits `Retry-After` and sends
the same request again (each one counted). A 5xx is counted and retried.

The checker (`check`): after the consumers caught up (`drain`), it reads every conversation
back twice, through the widget API as its visitor sees it and from the Conversations table as
stored, and counts what was sent, acknowledged, stored, lost, doubled and unexpected, and how
many bot turns answered each burst.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import httpx
from boto3.dynamodb.types import TypeDeserializer

CONVERSATIONS_TABLE = "yoosr-local-ConversationsTable"
# One topic per burst: the demo bot's knowledge answers each (local/demo_bot.json).
TOPICS = (
    ("shipping", "How long does shipping take", "is delivery fast", "express delivery cost"),
    ("returns", "Can I return an item", "how do refunds work", "return within 30 days"),
    ("payment", "Which payment methods do you accept", "can I pay by card", "paypal ok"),
    ("warranty", "Is there a warranty on tents", "my backpack is broken", "repair options"),
)
MAX_RETRY_AFTER_S = 65.0
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Plan:
    """The shape of one load run."""

    workspaces: tuple[str, ...]
    visitors_per_workspace: int
    bursts: int  # bursts per visitor (the first one starts the conversation)
    burst_size: tuple[int, int]  # messages per burst, inclusive range
    replay_share: float  # messages sent again after their 2xx
    timeout_share: float  # messages first sent with a tiny timeout, then again
    in_flight: int  # concurrent requests, all visitors together
    ramp_s: float  # visitors start spread over this many seconds
    reply_wait_s: float  # how long a visitor waits for the bot after a burst (0: a pause)
    pause_s: float  # pause after a burst before the next one (without waiting for the bot)
    gap_s: float  # pause between messages of a burst
    seed: int = 8

    @property
    def visitors(self) -> int:
        return self.visitors_per_workspace * len(self.workspaces)


@dataclass
class Sent:
    """One message (one client id) as the client saw it."""

    workspace: str
    visitor: int
    conversation_id: str | None
    client_id: str
    text: str
    burst: int
    kind: str  # "start" (the conversation's first message) or "post"
    retry: str = ""  # "", "replay" or "timeout"
    statuses: list[int] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)
    timed_out: int = 0

    @property
    def acknowledged(self) -> bool:
        return any(200 <= s < 300 for s in self.statuses)


@dataclass
class VisitorRun:
    workspace: str
    index: int
    source_ip: str
    token: str = ""
    visitor_id: str = ""
    conversation_id: str = ""
    client_conversation_id: str = ""
    bursts: list[list[str]] = field(default_factory=list)  # client ids per burst
    replies_seen: int = 0
    reply_timeouts: int = 0
    error: str = ""


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    rate_limited: int = 0
    retry_after_waited_s: float = 0.0
    server_errors: int = 0
    server_error_kinds: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    simulated_timeouts: int = 0
    timeouts_answered_first: int = 0  # the tiny timeout was not tiny enough
    replay_mismatches: int = 0  # a 2xx for a known client id that named another message
    replay_statuses: Counter[str] = field(default_factory=Counter)  # "<retry kind> <status>"
    requests: int = 0


@dataclass
class LoadResult:
    plan: Plan
    visitors: list[VisitorRun]
    sent: dict[str, Sent]
    stats: Stats
    elapsed_s: float


def source_ip(index: int) -> str:
    """A distinct loopback address per visitor (Linux routes all of 127.0.0.0/8 to lo)."""
    return f"127.{10 + index // 62500}.{(index // 250) % 250}.{index % 250 + 1}"


def _error_kind(response: httpx.Response) -> str:
    """`<status> <code>` for the product's error shape (API.md); `<status> local stack` for the
    answers of the local stack itself (a function that timed out or failed to start)."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} local stack"
    return f"{response.status_code} {code}"


class Runner:
    def __init__(self, api_url: str, workspaces: dict[str, Any], plan: Plan) -> None:
        self.api_url = api_url
        self.workspaces = workspaces
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.stats = Stats()
        self.sent: dict[str, Sent] = {}
        self.gate = asyncio.Semaphore(plan.in_flight)

    # ------------------------------------------------------------------ requests

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        tiny_timeout: bool = False,
    ) -> httpx.Response | None:
        """One logical request: retried on 429 (after Retry-After), 5xx and transport errors;
        with `tiny_timeout`, the first attempt gives up before the answer (None back)."""
        for attempt in range(MAX_ATTEMPTS):
            timeout = httpx.Timeout(10.0, read=0.001) if tiny_timeout and attempt == 0 else None
            try:
                async with self.gate:
                    started = time.perf_counter()
                    self.stats.requests += 1
                    kwargs: dict[str, Any] = {"json": json, "params": params}
                    if timeout is not None:
                        kwargs["timeout"] = timeout
                    response = await client.request(method, path, **kwargs)
            except httpx.TimeoutException:
                if timeout is not None:
                    self.stats.simulated_timeouts += 1
                    return None
                self.stats.transport_errors += 1
                await asyncio.sleep(0.5)
                continue
            except httpx.TransportError:
                self.stats.transport_errors += 1
                await asyncio.sleep(0.5)
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000  # without the wait at the gate
            self.stats.statuses[response.status_code] += 1
            if timeout is not None:
                self.stats.timeouts_answered_first += 1
            if response.status_code == 429:
                self.stats.rate_limited += 1
                wait = min(float(response.headers.get("retry-after") or 1), MAX_RETRY_AFTER_S)
                self.stats.retry_after_waited_s += wait
                await asyncio.sleep(wait + self.rng.random() * 0.2)
                continue
            if response.status_code >= 500:
                self.stats.server_errors += 1
                self.stats.server_error_kinds[_error_kind(response)] += 1
                await asyncio.sleep(0.5)
                continue
            if method == "POST":
                self.stats.latencies_ms.append(elapsed_ms)
            return response
        return None

    def _note(self, sent: Sent, response: httpx.Response | None, *, replay: bool) -> None:
        if response is None:
            sent.timed_out += 1
            return
        sent.statuses.append(response.status_code)
        if replay:
            self.stats.replay_statuses[f"{sent.retry} {response.status_code}"] += 1
        if not 200 <= response.status_code < 300:
            return
        body = response.json()
        message = body.get("message") if sent.kind == "start" else body
        message_id = (message or {}).get("id")
        if sent.kind == "start":
            conversation_id = body.get("id")
            if sent.conversation_id and conversation_id != sent.conversation_id:
                self.stats.replay_mismatches += 1
            sent.conversation_id = sent.conversation_id or conversation_id
        if message_id is None or (message or {}).get("client_message_id") != sent.client_id:
            self.stats.replay_mismatches += 1
            return
        if sent.message_ids and message_id not in sent.message_ids:
            self.stats.replay_mismatches += 1
        sent.message_ids.add(message_id)

    # ------------------------------------------------------------------ one visitor

    async def visitor(self, run: VisitorRun, delay: float) -> None:
        await asyncio.sleep(delay)
        ws = self.workspaces[run.workspace]
        headers = {"X-Yoosr-Widget-Key": ws["widget_key"], "Origin": ws["allowed_origins"][0]}
        transport = httpx.AsyncHTTPTransport(local_address=run.source_ip)
        async with httpx.AsyncClient(
            base_url=self.api_url, headers=headers, transport=transport, timeout=30.0
        ) as client:
            try:
                await self._conversation(client, run)
            except Exception as error:  # reported by the checker, never swallowed
                run.error = f"{type(error).__name__}: {error}"

    async def _conversation(self, client: httpx.AsyncClient, run: VisitorRun) -> None:
        plan = self.plan
        session = await self._send(client, "POST", "/v1/widget/sessions", json={})
        if session is None or session.status_code != 201:
            run.error = f"session: {session.status_code if session else 'no answer'}"
            return
        body = session.json()
        run.token, run.visitor_id = body["session_token"], body["visitor_id"]
        client.headers["Authorization"] = f"Bearer {run.token}"
        run.client_conversation_id = f"lc-{uuid.uuid4()}"
        # One generator per visitor: the shared one is drawn from in whatever order the
        # coroutines run, so the sizes and retries a seed gives would change from run to run.
        rng = random.Random(f"{plan.seed}:{run.index}")
        for burst in range(plan.bursts):
            topic = TOPICS[(run.index + burst) % len(TOPICS)]
            size = rng.randint(*plan.burst_size)
            ids: list[str] = []
            last_message_id = ""
            for position in range(size):
                text = f"{topic[1 + position % 3]}? [v{run.index} b{burst} m{position}]"
                kind = "start" if burst == 0 and position == 0 else "post"
                sent = Sent(
                    run.workspace, run.index, run.conversation_id or None, "", text, burst, kind
                )
                sent.client_id = f"lm-{uuid.uuid4()}"
                roll = rng.random()
                if roll < plan.timeout_share:
                    sent.retry = "timeout"
                elif roll < plan.timeout_share + plan.replay_share:
                    sent.retry = "replay"
                self.sent[sent.client_id] = sent
                ids.append(sent.client_id)
                last_message_id = await self._message(client, run, sent) or last_message_id
                if not run.conversation_id:
                    run.error = "the conversation did not start"
                    return
                if plan.gap_s:
                    await asyncio.sleep(plan.gap_s * self.rng.random())
            run.bursts.append(ids)
            if plan.reply_wait_s:
                await self._await_reply(client, run, last_message_id)
            if plan.pause_s and burst < plan.bursts - 1:
                await asyncio.sleep(plan.pause_s * (1 + 0.3 * self.rng.random()))

    async def _message(self, client: httpx.AsyncClient, run: VisitorRun, sent: Sent) -> str:
        if sent.kind == "start":
            path = "/v1/widget/conversations"
            body: dict[str, Any] = {
                "client_conversation_id": run.client_conversation_id,
                "message": {"client_message_id": sent.client_id, "text": sent.text},
            }
        else:
            path = f"/v1/widget/conversations/{run.conversation_id}/messages"
            body = {"client_message_id": sent.client_id, "text": sent.text}
        tiny = sent.retry == "timeout"
        response = await self._send(client, "POST", path, json=body, tiny_timeout=tiny)
        self._note(sent, response, replay=False)
        if tiny and response is None:
            # The client gave up; the identical request again (the first may still be running).
            response = await self._send(client, "POST", path, json=body)
            self._note(sent, response, replay=True)
        if sent.kind == "start" and sent.conversation_id:
            run.conversation_id = sent.conversation_id
        if sent.retry == "replay" and sent.acknowledged:
            again = await self._send(client, "POST", path, json=body)
            self._note(sent, again, replay=True)
        return next(iter(sent.message_ids), "")

    async def _await_reply(self, client: httpx.AsyncClient, run: VisitorRun, after: str) -> None:
        """Poll the conversation until a bot message follows `after`, or give up."""
        if not after:
            return
        path = f"/v1/widget/conversations/{run.conversation_id}/messages"
        deadline = time.monotonic() + self.plan.reply_wait_s
        await asyncio.sleep(1.5)
        while time.monotonic() < deadline:
            response = await self._send(client, "GET", path, params={"after": after})
            if (
                response is not None
                and response.status_code == 200
                and any(m["sender_type"] == "bot" for m in response.json()["items"])
            ):
                run.replies_seen += 1
                return
            await asyncio.sleep(0.75)
        run.reply_timeouts += 1

    async def run(self) -> list[VisitorRun]:
        runs = [
            VisitorRun(ws, i, source_ip(i))
            for i, ws in enumerate(
                w for _ in range(self.plan.visitors_per_workspace) for w in self.plan.workspaces
            )
        ]
        step = self.plan.ramp_s / max(1, len(runs))
        await asyncio.gather(*(self.visitor(run, i * step) for i, run in enumerate(runs)))
        return runs


def run_load(api_url: str, workspaces: dict[str, Any], plan: Plan) -> LoadResult:
    runner = Runner(api_url, workspaces, plan)
    started = time.monotonic()
    # Its own event loop on a thread of its own: `asyncio.run` in the main thread would leave it
    # with no current loop, and Mangum (the in-process handlers of the suites after this one)
    # asks the main thread for one.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="load") as pool:
        visitors = pool.submit(asyncio.run, runner.run()).result()
    return LoadResult(plan, visitors, runner.sent, runner.stats, time.monotonic() - started)


# ---------------------------------------------------------------------- the checker


@dataclass
class Check:
    """What the checker counted; the test records every field as a figure."""

    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    stored_unacknowledged: int = 0  # a timed-out request that was stored: fine, not lost
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    text_mismatches: int = 0
    id_mismatches: int = 0  # the stored message is not the one the 2xx named
    api_store_mismatches: int = 0  # the widget API and the table disagree on a conversation
    conversations: int = 0
    unexpected_conversations: int = 0
    bursts: int = 0
    bot_turns: int = 0
    bot_messages: int = 0
    bot_turns_uncounted: int = 0  # bot message groups vs the conversation's bot_turns
    empty_turns: int = 0  # a bot turn that answered no visitor message not answered before
    max_turns_per_burst: int = 0
    tight_bursts: int = 0  # bursts stored within the burst window
    tight_bursts_answered_twice: int = 0
    loose_bursts_answered_twice: int = 0
    conversations_without_bot_turn: int = 0
    visitor_errors: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def _table(endpoint_url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _query_all(dynamodb: Any, pk: str) -> list[dict[str, Any]]:
    deserialize = TypeDeserializer().deserialize
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": CONVERSATIONS_TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    while True:
        page = dynamodb.query(**kwargs)
        items.extend({k: deserialize(v) for k, v in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _api_messages(client: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    path = f"/v1/widget/conversations/{conversation_id}/messages"
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        out.extend(page["items"])
        if not page["next_cursor"]:
            return out
        params["after"] = page["next_cursor"]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass
class Read:
    """One visitor's conversation as read back."""

    error: str = ""
    conversations: int = 0
    unexpected_conversations: int = 0
    api_items: list[dict[str, Any]] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    bot_turns_counter: int = 0
    # Each bot turn's (cursor before, cursor after) from the table's stream: the visitor
    # messages it answered are those in between. None: not read (the count falls back on the
    # order of the messages).
    turn_ranges: list[tuple[str, str]] | None = None


def _read_back(run: VisitorRun, api_url: str, dynamodb: Any, workspaces: dict[str, Any]) -> Read:
    """The visitor's conversations through the widget API (with its own session) and its
    conversation's partition from the table."""
    out = Read()
    ws = workspaces[run.workspace]
    headers = {
        "X-Yoosr-Widget-Key": ws["widget_key"],
        "Origin": ws["allowed_origins"][0],
        "Authorization": f"Bearer {run.token}",
    }
    with httpx.Client(
        base_url=api_url,
        headers=headers,
        timeout=60,
        transport=httpx.HTTPTransport(local_address=run.source_ip, retries=2),
    ) as client:
        listed = client.get("/v1/widget/conversations", params={"limit": 200})
        if listed.status_code != 200:
            out.error = f"list conversations: {listed.status_code}"
            return out
        conversation_ids = [c["id"] for c in listed.json()["items"]]
        expected = [run.conversation_id] if run.conversation_id else []
        out.unexpected_conversations += len(set(conversation_ids) - set(expected))
        out.unexpected_conversations += len(conversation_ids) - len(set(conversation_ids))
        if not run.conversation_id:
            return out
        out.conversations = 1
        out.api_items = _api_messages(client, run.conversation_id)
    pk = f"{ws['workspace_id']}#CONV#{run.conversation_id}"
    partition = _query_all(dynamodb, pk)
    conversation = next((i for i in partition if i["sk"] == "CONV"), {})
    out.bot_turns_counter = int(conversation.get("bot_turns") or 0)
    out.stored = sorted(
        (i for i in partition if i.get("item_type") == "message"),
        key=lambda i: str(i["message_id"]),
    )
    return out


def bot_turn_ranges(aws_endpoint_url: str) -> dict[str, list[tuple[str, str]]]:
    """Every bot turn of the Conversations table, from its stream (NEW_AND_OLD_IMAGES): a
    conversation update that raised `bot_turns` moved `bot_cursor` over what it answered."""
    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    found: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for stream in streams.list_streams(TableName=CONVERSATIONS_TABLE)["Streams"]:
        arn = stream["StreamArn"]
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            ).get("ShardIterator")
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                for record in page["Records"]:
                    data = record["dynamodb"]
                    new, old = data.get("NewImage") or {}, data.get("OldImage") or {}
                    if new.get("sk", {}).get("S") != "CONV":
                        continue
                    turns = int(new.get("bot_turns", {}).get("N", "0"))
                    if turns == int(old.get("bot_turns", {}).get("N", "0")):
                        continue
                    found[new["conversation_id"]["S"]].append(
                        (
                            turns,
                            old.get("bot_cursor", {}).get("S", ""),
                            new.get("bot_cursor", {}).get("S", ""),
                        )
                    )
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
    return {c: [(a, b) for _, a, b in sorted(turns)] for c, turns in found.items()}


def check(
    result: LoadResult,
    api_url: str,
    aws_endpoint_url: str,
    workspaces: dict[str, Any],
    burst_seconds: float,
    readers: int = 8,
) -> Check:
    """Read every visitor's conversation back (widget API and table), then `tally`."""
    dynamodb = _table(aws_endpoint_url)
    runs = [run for run in result.visitors if run.token]
    with ThreadPoolExecutor(readers) as pool:
        reads = list(pool.map(lambda r: _read_back(r, api_url, dynamodb, workspaces), runs))
    ranges = bot_turn_ranges(aws_endpoint_url)
    for run, read in zip(runs, reads, strict=True):
        if read.conversations:
            read.turn_ranges = ranges.get(run.conversation_id, [])
    return tally(result, dict(zip((r.index for r in runs), reads, strict=True)), burst_seconds)


def tally(result: LoadResult, reads: dict[int, Read], burst_seconds: float) -> Check:
    """Count what was sent against what was read back (`reads`: per visitor index)."""
    out = Check()
    sent = result.sent
    out.sent = len(sent)
    out.acknowledged = sum(1 for s in sent.values() if s.acknowledged)
    stored_counts: Counter[str] = Counter()
    turns_per_burst: list[tuple[int, bool]] = []  # (turns, tight)
    out.visitor_errors.extend(
        f"{run.workspace} v{run.index}: {run.error}" for run in result.visitors if run.error
    )
    for run in result.visitors:
        read = reads.get(run.index)
        if read is None:
            continue
        if read.error:
            out.visitor_errors.append(f"{run.workspace} v{run.index} read back: {read.error}")
        out.unexpected_conversations += read.unexpected_conversations
        if not read.conversations:
            continue
        out.conversations += 1
        stored = read.stored
        if [m["id"] for m in read.api_items] != [str(m["message_id"]) for m in stored]:
            out.api_store_mismatches += 1
            out.examples.append(f"api/store differ in {run.conversation_id}")
        burst_of: dict[str, int] = {}
        for number, client_ids in enumerate(run.bursts):
            for client_id in client_ids:
                burst_of[client_id] = number
        # Walk the conversation in order: visitor messages open (or continue) a burst; groups
        # of bot messages written together (one turn: one created_at) count against it.
        current: int | None = None
        turns: dict[int, int] = defaultdict(int)
        burst_times: dict[int, list[float]] = defaultdict(list)
        last_turn_at: str | None = None
        groups = 0
        for item in stored:
            sender = item["sender_type"]
            if sender == "visitor":
                client_id = str(item.get("client_message_id") or "")
                stored_counts[client_id] += 1
                known = sent.get(client_id)
                if known is None:
                    out.unexpected += 1
                    out.examples.append(f"unexpected message in {run.conversation_id}")
                    continue
                if item["text"] != known.text:
                    out.text_mismatches += 1
                if known.message_ids and str(item["message_id"]) not in known.message_ids:
                    out.id_mismatches += 1
                number = burst_of.get(client_id, -1)
                burst_times[number].append(_epoch(str(item["created_at"])))
                current = number if current is None else max(current, number)
                last_turn_at = None
            elif sender == "bot":
                out.bot_messages += 1
                if item["created_at"] != last_turn_at:
                    groups += 1
                    last_turn_at = str(item["created_at"])
                    if current is not None:
                        turns[current] += 1
        if read.turn_ranges is not None:
            # Exactly what each turn answered: the visitor messages its cursor moved over.
            turns = defaultdict(int)
            for before, after in read.turn_ranges:
                answered = {
                    burst_of.get(str(m.get("client_message_id") or ""), -1)
                    for m in stored
                    if m["sender_type"] == "visitor" and before < str(m["message_id"]) <= after
                }
                if not answered:
                    out.empty_turns += 1
                for number in answered:
                    turns[number] += 1
            out.bot_turns_uncounted += abs(read.bot_turns_counter - len(read.turn_ranges))
        out.bot_turns += groups
        out.bot_turns_uncounted += abs(read.bot_turns_counter - groups)
        if groups == 0:
            out.conversations_without_bot_turn += 1
        for number in range(len(run.bursts)):
            times = burst_times.get(number, [])
            tight = bool(times) and max(times) - min(times) < burst_seconds - 0.5
            turns_per_burst.append((turns.get(number, 0), tight))
    for client_id, count in stored_counts.items():
        if client_id in sent and count > 1:
            out.duplicated += count - 1
    stored_known = {c for c in stored_counts if c in sent}
    out.stored = len(stored_known)
    for client_id, s in sent.items():
        if s.acknowledged and client_id not in stored_known:
            out.lost += 1
            out.examples.append(f"lost {client_id} ({s.workspace} v{s.visitor} b{s.burst})")
        if not s.acknowledged and client_id in stored_known:
            out.stored_unacknowledged += 1
    out.bursts = len(turns_per_burst)
    out.max_turns_per_burst = max((t for t, _ in turns_per_burst), default=0)
    out.tight_bursts = sum(1 for _, tight in turns_per_burst if tight)
    out.tight_bursts_answered_twice = sum(1 for t, tight in turns_per_burst if tight and t > 1)
    out.loose_bursts_answered_twice = sum(1 for t, tight in turns_per_burst if not tight and t > 1)
    return out


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]
