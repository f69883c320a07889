"""The bot's turn: a visitor message (or a new conversation) in, the flow's reply written.

Triggered by the Conversations stream (visitor message inserts, and inserts of conversations
started without a message). One turn:

1. Read the conversation. The bot acts only while it owns it (`owner = bot`, open); a turn
   whose messages an earlier turn already answered (`bot_cursor`, the newest visitor message
   answered) does nothing, so redelivered records and the later records of a burst are free.
2. Read, in one BatchGetItem, the workspace, the bot config and the visitor; read the last
   messages in one query. Every visitor message after the cursor is the *burst*: answered
   together, with one reply.
3. Run the flow (`engine.advance`). Its ai_answer step asks the model through OpenRouter, or,
   without an API key, answers from the knowledge base when retrieval is confident; a visitor
   who restricted processing or objected to it gets no AI step (the flow hands off), and
   a workspace past its daily token budget hands off too.
4. Write everything in one transaction, guarded by what step 1 read: the routing state
   (still bot-owned and open) and `bot_turns` (no other turn wrote since). A human who took
   the conversation meanwhile makes the write fail: the answer is discarded and the bot stays
   silent. A handoff is the same transaction moving the conversation to `owner = human` with
   its queue entry (routing's stream consumer assigns it); a close resolves the conversation.

Logs and metrics carry ids, outcomes and token counts only, never text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import httpx

from yoosr import clock, ids
from yoosr.ai.openrouter import OpenRouterClient, Timeouts
from yoosr.ai.types import AiFailure, AiResult
from yoosr.bot import answering, engine, knowledge
from yoosr.bot.answering import AiProfile, Turn
from yoosr.bot.flows import AgentsOnlineRule, ConditionStep, Flow, validate_flow
from yoosr.bot.safety import link_domains
from yoosr.domain import business_hours
from yoosr.domain.text import preview
from yoosr.errors import ConditionFailed, Conflict, ValidationFailed
from yoosr.models.routing import ConversationState
from yoosr.models.workspace import Workspace
from yoosr.observability import count, logger
from yoosr.routing import handoff as routing_handoff
from yoosr.routing import transitions
from yoosr.routing.apply import apply_transition
from yoosr.settings import BotReplyEventsSettings
from yoosr.store import agents, budget, conversations, ddb, keys, visitors
from yoosr.store import bot as bot_store
from yoosr.store.assignment import Extras, Tables
from yoosr.store.secrets import get_secret, get_secure_parameter

Item = dict[str, Any]
AiComplete = Callable[[Any], AiResult]
# Returns the model call, or None when no API key is configured.
AiPort = Callable[[], AiComplete | None]

# Attributes the bot may store on the visitor (with the keyed hashes the privacy lookup
# needs); every other attribute stays in the conversation's flow state.
CONTACT_ATTRIBUTES = ("name", "email", "phone")
# Visitor flags set by privacy requests: no AI step for such a visitor.
RESTRICTION_FLAGS = ("restricted", "ai_objection")
MAX_BURST_CHARS = 4_000
PROMPT_CHARS_PER_TOKEN = 3

# Without a greeting flow the bot answers questions (model or knowledge base) and hands off
# whatever it cannot answer, so no conversation waits on a bot that says nothing.
DEFAULT_FLOW: Flow = validate_flow(
    {
        "id": "default",
        "name": "Answer, else hand off",
        "version": 1,
        "start_step": "answer",
        "steps": [
            {"id": "answer", "type": "ai_answer", "on_no_answer": "handoff"},
            {
                "id": "handoff",
                "type": "handoff",
                "message": "Let me connect you with someone from our team.",
            },
        ],
    }
)


@dataclass(frozen=True)
class Trigger:
    workspace_id: str
    conversation_id: str
    # None: a conversation started without a message (the flow greets).
    message_id: str | None
    created_at: str


def trigger_from_image(image: Mapping[str, Any] | None) -> Trigger | None:
    """The bot's trigger in a stream record's new image, or None."""
    if not image:
        return None
    kind = image.get("item_type")
    if kind == "message" and image.get("sender_type") == "visitor":
        message_id: str | None = str(image["message_id"])
    elif (
        kind == "conversation"
        and image.get("owner") == "bot"
        and int(image.get("message_count") or 0) == 0
    ):
        message_id = None
    else:
        return None
    return Trigger(
        workspace_id=str(image["workspace_id"]),
        conversation_id=str(image["conversation_id"]),
        message_id=message_id,
        created_at=str(image.get("created_at") or ""),
    )


class BotPreempted(Exception):
    """Someone else changed the conversation since the bot read it: a human took it, it was
    resolved, or another turn answered first."""


# ---------------------------------------------------------------- caches (warm Lambda)


@cache
def _flow_cache() -> dict[tuple[str, str, int], Flow]:
    return {}


@cache
def _index_cache() -> knowledge.KnowledgeIndexCache:
    return knowledge.KnowledgeIndexCache()


def _load_flow(table: str, ws: str, flow_id: str, version: int) -> Flow | None:
    cached = _flow_cache()
    key = (ws, flow_id, version)
    if key not in cached:
        flow = bot_store.get_flow(table, ws, flow_id)
        if flow is None:
            return None
        if len(cached) >= 256:
            cached.clear()
        cached[key] = flow
    return cached[key]


def choose_flow(table: str, ws: str, config: bot_store.BotConfig, state: engine.FlowState) -> Flow:
    """The flow a running conversation is in, else the workspace's greeting flow, else the
    default one."""
    for flow_id in (state.flow_id if state.status == "running" else None, config.greeting_flow_id):
        if flow_id and flow_id != DEFAULT_FLOW.id:
            flow = _load_flow(table, ws, flow_id, config.flows_version)
            if flow is not None:
                return flow
    return DEFAULT_FLOW


def _uses_agents_online(flow: Flow) -> bool:
    return any(
        isinstance(step, ConditionStep)
        and any(isinstance(rule, AgentsOnlineRule) for rule in step.rules)
        for step in flow.steps
    )


# ---------------------------------------------------------------- answering


def openrouter_port(
    settings: BotReplyEventsSettings, transport: httpx.BaseTransport | None = None
) -> AiPort:
    """The model call with the key from SSM (cached `secret_max_age_seconds`), one pooled
    client per key (a rotated key gets a new client); None without a key parameter."""
    clients: dict[str, OpenRouterClient] = {}

    def port() -> AiComplete | None:
        if not settings.openrouter_api_key_parameter:
            return None
        key = get_secure_parameter(
            settings.openrouter_api_key_parameter, settings.secret_max_age_seconds
        )
        client = clients.get(key)
        if client is None:
            for old in clients.values():
                old.close()
            clients.clear()
            client = clients[key] = OpenRouterClient(
                key,
                referer=settings.openrouter_app_url,
                title=settings.openrouter_app_title,
                base_url=settings.openrouter_base_url,
                timeouts=Timeouts(total=settings.ai_timeout_seconds),
                transport=transport,
            )
        return client.complete

    return port


@dataclass
class Answerer:
    """engine's `answer` callback: the model (or the knowledge base) under the budget.
    Keeps what the call cost, for the message that carries the answer or the handoff."""

    settings: BotReplyEventsSettings
    workspace: Workspace
    knowledge_version: int
    restricted: bool
    transcript: Sequence[Turn]
    ai: AiPort
    record: dict[str, Any] | None = field(default=None)

    def __call__(self, question: str) -> engine.Answer | engine.NoAnswer:
        if self.restricted:
            self.record = {"outcome": "skipped", "reason": "restricted"}
            return engine.NoAnswer("no_answer", "restricted")
        ws = self.workspace.workspace_id
        index = _index_cache().get(
            ws,
            str(self.knowledge_version),
            lambda: bot_store.list_knowledge(self.settings.workspaces_table, ws),
        )
        domains = link_domains(self.workspace.settings.allowed_origins)
        try:
            complete = self.ai()
        except Exception:
            logger.warning("openrouter key unavailable", extra={"workspace_id": ws})
            complete, unavailable = None, True
        else:
            unavailable = False
        if unavailable:
            self.record = {"outcome": "failure", "failure_kind": "key_unavailable"}
            return engine.NoAnswer("ai_failure", "key_unavailable")
        if complete is None:
            result = answering.offline_answer(index, question, domains)
            self.record = {
                "outcome": "answer" if isinstance(result, engine.Answer) else "no_answer",
                "source": "knowledge",
            }
            return result
        return self._ask_model(complete, index, question, domains)

    def _ask_model(
        self,
        complete: AiComplete,
        index: knowledge.KnowledgeIndex,
        question: str,
        domains: Sequence[str],
    ) -> engine.Answer | engine.NoAnswer:
        stored = self.workspace.settings
        ws = self.workspace.workspace_id
        profile = AiProfile(
            workspace_id=ws,
            workspace_name=self.workspace.name,
            model=stored.ai_model or self.settings.ai_default_model,
            fallback_models=tuple(stored.ai_fallback_models) or self.settings.fallback_models,
            max_tokens=self.settings.ai_max_tokens,
        )
        request = answering.build_answer_request(profile, index, question, self.transcript)
        reserved = (
            sum(len(m.content) for m in request.messages) // PROMPT_CHARS_PER_TOKEN
            + request.max_tokens
        )
        allowance = (
            stored.ai_daily_token_budget
            if stored.ai_daily_token_budget is not None
            else self.settings.ai_daily_token_budget
        )
        day = budget.today()
        table = self.settings.ephemeral_table
        if not budget.reserve(table, ws, day, reserved, allowance):
            count("AiBudgetExhausted")
            self.record = {"outcome": "failure", "failure_kind": "budget", "model": profile.model}
            return engine.NoAnswer("budget", "budget")
        result = complete(request)
        budget.settle(table, ws, day, _spent(result, reserved) - reserved)
        decision = answering.decide(result, domains)
        self.record = _ai_record(result, decision, profile.model)
        count("AiCalls")
        if isinstance(result, AiFailure):
            count("AiFailures")
        return decision


def _spent(result: AiResult, reserved: int) -> int:
    usage = result.usage
    if usage is not None:
        return usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    # A success that does not say what it cost counts as the whole reservation; a failure
    # without usage spent nothing.
    return 0 if isinstance(result, AiFailure) else reserved


def _ai_record(
    result: AiResult, decision: engine.Answer | engine.NoAnswer, requested: str
) -> dict[str, Any]:
    """What a model call cost and how it went, stored on the bot message for analytics."""
    usage = result.usage
    record: dict[str, Any] = {
        "outcome": (
            "failure"
            if isinstance(result, AiFailure)
            else "answer"
            if isinstance(decision, engine.Answer)
            else "no_answer"
        ),
        "source": "ai",
        "model": requested if isinstance(result, AiFailure) else result.model,
        "requested_model": requested,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cost_usd": str(usage.cost) if usage and usage.cost is not None else None,
        "latency_ms": result.latency_ms,
        "failure_kind": result.kind if isinstance(result, AiFailure) else None,
    }
    if isinstance(decision, engine.NoAnswer) and not isinstance(result, AiFailure):
        record["failure_kind"] = decision.detail
    return record


# ---------------------------------------------------------------- the turn


def _burst(recent: Sequence[Item], cursor: str | None) -> list[Item]:
    return [
        m
        for m in recent
        if m.get("sender_type") == "visitor" and (cursor is None or m["message_id"] > cursor)
    ]


def visitor_event(burst: Sequence[Item]) -> engine.VisitorMessage:
    """One event for a burst: a tapped quick reply when the last message is one, else the
    texts together (newest kept when they are long)."""
    if not burst:
        return engine.VisitorMessage(text="")
    last = burst[-1]
    if last.get("reply_value"):
        return engine.VisitorMessage(text=str(last["text"]), value=str(last["reply_value"]))
    text = "\n".join(str(m["text"]) for m in burst)
    return engine.VisitorMessage(text=text[-MAX_BURST_CHARS:])


def _transcript(recent: Sequence[Item], burst: Sequence[Item]) -> list[Turn]:
    answered = {m["message_id"] for m in burst}
    return [
        Turn("visitor" if m["sender_type"] == "visitor" else "bot", str(m["text"]))
        for m in recent
        if m["sender_type"] in ("visitor", "bot") and m["message_id"] not in answered
    ]


def _message_items(
    ws: str,
    conversation: Item,
    outcome: engine.Outcome,
    record: dict[str, Any] | None,
    now: str,
) -> list[Item]:
    said: list[tuple[str, dict[str, Any]]] = []
    for action in outcome.actions:
        if isinstance(action, engine.SendMessage):
            extra: dict[str, Any] = {"source": action.source}
            if action.buttons:
                extra["buttons"] = [{"label": b.label, "value": b.value} for b in action.buttons]
            said.append((action.text, extra))
        elif isinstance(action, engine.Handoff):
            said.append((action.message, {"source": "flow", "handoff_reason": action.reason}))
        elif isinstance(action, engine.Close):
            said.append((action.message, {"source": "flow", "closes": True}))
    if record is not None and said:
        # On the answer when there is one, else on the handoff that replaced it.
        at = next(
            (i for i, (_, extra) in enumerate(said) if extra["source"] in ("ai", "knowledge")),
            len(said) - 1,
        )
        said[at][1]["ai"] = record
    message_ids = ids.new_ids("msg", len(said))
    return [
        conversations.message_item(
            ws,
            conversation["conversation_id"],
            message_id,
            "bot",
            text,
            now,
            conversation.get("expires_at"),
            extra,
        )
        for message_id, (text, extra) in zip(message_ids, said, strict=True)
    ]


def _turn_guard(turns: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    names = {"#x_turns": "bot_turns"}
    if turns == 0:
        return "attribute_not_exists(#x_turns)", names, {}
    return "#x_turns = :x_turns", names, ddb.values(x_turns=turns)


def _store_contacts(
    settings: BotReplyEventsSettings, ws: str, visitor_id: str, outcome: engine.Outcome
) -> None:
    collected = {
        action.name: action.value
        for action in outcome.actions
        if isinstance(action, engine.SetAttribute) and action.name in CONTACT_ATTRIBUTES
    }
    if not collected:
        return
    fields = visitors.contact_fields(
        lambda: get_secret(settings.subject_hash_key_secret, settings.secret_max_age_seconds),
        ws,
        **collected,
    )
    with contextlib.suppress(ConditionFailed):  # the visitor was erased meanwhile
        visitors.update_attributes(settings.visitors_table, ws, visitor_id, fields, [])


def take_turn(settings: BotReplyEventsSettings, trigger: Trigger, ai: AiPort) -> str:
    """Run one bot turn; returns what happened (for logs and tests), never raises for a
    conversation the bot no longer owns."""
    ws, conversation_id = trigger.workspace_id, trigger.conversation_id
    tables = Tables(settings.workspaces_table, settings.conversations_table)
    conversation = conversations.get(settings.conversations_table, ws, conversation_id)
    if conversation is None:
        return "gone"
    routing = ConversationState.of(conversation)
    if routing.owner != "bot" or routing.status != "open":
        return "not_bot_owned"
    cursor: str | None = conversation.get("bot_cursor")
    turns = int(conversation.get("bot_turns") or 0)
    if trigger.message_id is None and (turns or cursor):
        return "already_started"
    if trigger.message_id is not None and cursor is not None and trigger.message_id <= cursor:
        return "covered"

    found = ddb.batch_get(
        {
            settings.workspaces_table: [keys.workspace(ws), bot_store.config_key(ws)],
            settings.visitors_table: [keys.visitor(ws, str(conversation["visitor_id"]))],
        }
    )
    workspace_item = found.get((settings.workspaces_table, *keys.workspace(ws)))
    if workspace_item is None:
        return "gone"
    workspace = Workspace.model_validate(workspace_item)
    config = bot_store.config_from_item(
        found.get((settings.workspaces_table, *bot_store.config_key(ws)))
    )
    visitor = (
        found.get((settings.visitors_table, *keys.visitor(ws, str(conversation["visitor_id"]))))
        or {}
    )
    recent = conversations.recent_messages(
        settings.conversations_table, ws, conversation_id, settings.transcript_messages
    )
    burst = _burst(recent, cursor)
    if trigger.message_id is not None and not burst:
        return "covered"

    state = engine.FlowState.model_validate(conversation.get("bot_state") or {})
    if state.status != "running":
        state = engine.FlowState()  # the visitor came back after a close: start again
    flow = choose_flow(settings.workspaces_table, ws, config, state)
    now_dt: datetime = clock.now()
    answerer = Answerer(
        settings=settings,
        workspace=workspace,
        knowledge_version=config.knowledge_version,
        restricted=any(bool(visitor.get(flag)) for flag in RESTRICTION_FLAGS),
        transcript=_transcript(recent, burst),
        ai=ai,
    )
    attributes = {name: str(visitor[name]) for name in CONTACT_ATTRIBUTES if visitor.get(name)}
    context = engine.BotContext(
        attributes=attributes,
        business_hours_open=business_hours.status(workspace.settings.business_hours, now_dt)[0],
        agents_online=(
            agents.any_online(settings.workspaces_table, ws, clock.epoch())
            if _uses_agents_online(flow)
            else False
        ),
        answer=answerer,
    )
    outcome = engine.advance(flow, state, visitor_event(burst), context)
    if not outcome.actions and trigger.message_id is None:
        return "nothing_to_say"

    return _write_turn(
        settings, tables, workspace, conversation, routing, outcome, answerer.record, burst, turns
    )


def _write_turn(
    settings: BotReplyEventsSettings,
    tables: Tables,
    workspace: Workspace,
    conversation: Item,
    routing: ConversationState,
    outcome: engine.Outcome,
    record: dict[str, Any] | None,
    burst: Sequence[Item],
    turns: int,
) -> str:
    ws, conversation_id = workspace.workspace_id, str(conversation["conversation_id"])
    now_dt = clock.now()
    now = clock.iso(now_dt)
    handoff = next((a for a in outcome.actions if isinstance(a, engine.Handoff)), None)
    closes = any(isinstance(a, engine.Close) for a in outcome.actions)
    target: routing_handoff.Target | None = None
    if handoff is not None:
        try:
            target = routing_handoff.handoff_target(
                tables,
                ws,
                handoff.department_id,
                routing.department_id,
                workspace.settings.first_response_sla_seconds,
                now_dt,
            )
        except ValidationFailed:  # the flow names a department that is gone: any queue
            target = routing_handoff.handoff_target(
                tables, ws, None, None, workspace.settings.first_response_sla_seconds, now_dt
            )
    messages = _message_items(ws, conversation, outcome, record, now)
    arrival = ids.ulid()

    def decide(before: ConversationState, item: Item) -> ConversationState:
        if before.owner != "bot" or before.status != "open":
            raise BotPreempted
        if int(item.get("bot_turns") or 0) != turns:
            raise BotPreempted
        if target is not None:
            return transitions.hand_off(
                before, target.department_id, arrival, now, target.first_response_due_at
            )
        if closes:
            return transitions.resolve(before, "bot", now)
        return before

    def extras(before: ConversationState, after: ConversationState, item: Item) -> Extras:
        sets: dict[str, Any] = {"bot_state": outcome.state.model_dump(mode="json")}
        if burst:
            sets["bot_cursor"] = burst[-1]["message_id"]
        if messages:
            sets.update(
                last_activity_at=now,
                last_message_preview=preview(messages[-1]["text"]),
                last_message_sender="bot",
            )
        return Extras(
            sets=sets,
            adds={"bot_turns": 1, "message_count": len(messages)},
            puts=messages,
            condition=_turn_guard(turns),
        )

    try:
        apply_transition(tables, ws, conversation_id, decide, item=conversation, extras=extras)
    except (BotPreempted, Conflict):
        count("BotAnswersDiscarded")
        logger.info(
            "bot reply discarded",
            extra={"workspace_id": ws, "conversation_id": conversation_id},
        )
        return "discarded"
    _store_contacts(settings, ws, str(conversation["visitor_id"]), outcome)
    result = "handed_off" if handoff else "closed" if closes else "replied"
    count("BotTurns")
    if handoff is not None:
        count("BotHandoffs")
    logger.info(
        "bot turn",
        extra={
            "workspace_id": ws,
            "conversation_id": conversation_id,
            "outcome": result,
            "messages": len(messages),
            "burst": len(burst),
            "handoff_reason": handoff.reason if handoff else None,
            "ai_outcome": record.get("outcome") if record else None,
            "ai_failure_kind": record.get("failure_kind") if record else None,
            "ai_model": record.get("model") if record else None,
            "prompt_tokens": record.get("prompt_tokens") if record else None,
            "completion_tokens": record.get("completion_tokens") if record else None,
        },
    )
    return result
