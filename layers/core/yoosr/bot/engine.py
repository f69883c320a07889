"""The flow interpreter: one visitor message (or one answer) in, a list of actions out.

`advance(flow, state, event, context)` is pure: the caller loads the state, runs it, performs
the actions (writes the bot's messages only while the bot still owns the conversation, sets
visitor attributes, hands off, closes) and stores `Outcome.state`.

How a reply runs:
- A typed message that asks for a person (`intent.wants_human`) hands off at once, whatever the
  step. Tapped buttons are never read as such a request.
- A new conversation (no current step) starts at `start_step`. The visitor's first message was
  written before any prompt, so buttons and collect steps do not read it; an ai_answer step
  reached before the bot waits answers it.
- Otherwise the message goes to the step the bot waits on: buttons (an option's value or label,
  case-insensitive), collect (validated; after `max_attempts` invalid answers the flow goes to
  `on_fail`) or ai_answer (the question).
- Then message, condition and set_attribute steps run until the bot waits (buttons, collect,
  ai_answer) or ends (handoff, close). Flow validation guarantees this ends; a step cap hands
  off if it ever does not.

ai_answer calls `context.answer(question)`; without a callback the outcome carries
`RequestAnswer` and the state waits for an `AnswerReady` event with the result. `NoAnswer` goes to
the step's `on_no_answer` handoff, with the reason it gives (no_answer, ai_failure, budget).
Small talk without content ("thanks!") is not sent for an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from yoosr.bot import fields, intent, knowledge
from yoosr.bot.flows import (
    AgentsOnlineRule,
    AiAnswerStep,
    AttributeRule,
    BusinessHoursRule,
    ButtonsStep,
    CloseStep,
    CollectStep,
    ConditionStep,
    Flow,
    HandoffStep,
    MessageStep,
    Rule,
    SetAttributeStep,
    Step,
)
from yoosr.domain.text import clean_message_text

HandoffReason = Literal["flow", "visitor_asked", "no_answer", "ai_failure", "budget"]
NoAnswerReason = Literal["no_answer", "ai_failure", "budget"]
MessageSource = Literal["flow", "ai", "knowledge"]


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    text: str
    source: Literal["ai", "knowledge"]


@dataclass(frozen=True)
class NoAnswer:
    reason: NoAnswerReason
    # Why, for logs and analytics (a failure kind such as "rate_limited"); never shown.
    detail: str | None = None


AnswerFn: TypeAlias = Callable[[str], Answer | NoAnswer]


# --- events, context, state ------------------------------------------------------------------


@dataclass(frozen=True)
class VisitorMessage:
    text: str
    # The quick-reply value when the visitor tapped a button.
    value: str | None = None


@dataclass(frozen=True)
class AnswerReady:
    """The result of a RequestAnswer the caller resolved itself."""

    result: Answer | NoAnswer


Event: TypeAlias = VisitorMessage | AnswerReady


@dataclass(frozen=True)
class BotContext:
    """What the flow may look at; computed by the caller (business hours at the message's time)."""

    attributes: Mapping[str, str] = field(default_factory=dict)
    business_hours_open: bool = True
    agents_online: bool = False
    answer: AnswerFn | None = None


class FlowState(BaseModel):
    """Per-conversation flow state, stored with the conversation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    flow_id: str | None = None
    flow_version: int | None = None
    step_id: str | None = None
    attempts: int = 0
    attributes: dict[str, str] = Field(default_factory=dict)
    pending_question: str | None = None
    status: Literal["running", "handed_off", "closed"] = "running"


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuickReply:
    label: str
    value: str


@dataclass(frozen=True)
class SendMessage:
    text: str
    buttons: tuple[QuickReply, ...] = ()
    source: MessageSource = "flow"


@dataclass(frozen=True)
class SetAttribute:
    name: str
    value: str


@dataclass(frozen=True)
class RequestAnswer:
    step_id: str
    question: str


@dataclass(frozen=True)
class Handoff:
    """Humans take over; the caller writes `message` with the ownership change."""

    department_id: str | None
    reason: HandoffReason
    message: str


@dataclass(frozen=True)
class Close:
    message: str


Action: TypeAlias = SendMessage | SetAttribute | RequestAnswer | Handoff | Close


@dataclass(frozen=True)
class Outcome:
    actions: tuple[Action, ...]
    state: FlowState


# --- the interpreter -------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


class _Run:
    def __init__(self, flow: Flow, state: FlowState, context: BotContext) -> None:
        self.flow = flow
        self.context = context
        self.actions: list[Action] = []
        self.attributes = dict(state.attributes)
        self.step_id = state.step_id
        self.attempts = state.attempts
        self.pending: str | None = state.pending_question
        self.status = state.status

    # outcome

    def outcome(self) -> Outcome:
        return Outcome(
            actions=tuple(self.actions),
            state=FlowState(
                flow_id=self.flow.id,
                flow_version=self.flow.version,
                step_id=self.step_id,
                attempts=self.attempts,
                attributes=self.attributes,
                pending_question=self.pending,
                status=self.status,
            ),
        )

    def send(self, text: str, buttons: tuple[QuickReply, ...] = ()) -> None:
        self.actions.append(SendMessage(text=text, buttons=buttons))

    def wait(self, step: Step, attempts: int = 0) -> None:
        self.step_id = step.id
        self.attempts = attempts
        self.pending = None

    def hand_off(self, department_id: str | None, reason: HandoffReason, message: str) -> None:
        self.actions.append(Handoff(department_id=department_id, reason=reason, message=message))
        self.status = "handed_off"
        self.pending = None
        self.attempts = 0

    # conditions

    def _holds(self, rule: Rule) -> bool:
        if isinstance(rule, BusinessHoursRule):
            return self.context.business_hours_open == rule.value
        if isinstance(rule, AgentsOnlineRule):
            return self.context.agents_online == rule.value
        value = self.attributes.get(rule.attribute, self.context.attributes.get(rule.attribute))
        return _compare(rule, value)

    def holds(self, step: ConditionStep) -> bool:
        results = (self._holds(rule) for rule in step.rules)
        return all(results) if step.match == "all" else any(results)

    # running

    def go(self, step_id: str, question: str | None = None, reason: HandoffReason = "flow") -> None:
        """Run from `step_id` until the bot waits or ends; `question` is unread visitor text."""
        for _ in range(len(self.flow.steps) + 1):
            step = self.flow.step(step_id)
            if step is None:  # only a flow saved without validation can get here
                break
            self.step_id = step.id
            if isinstance(step, MessageStep):
                self.send(step.text)
                step_id = step.next
            elif isinstance(step, SetAttributeStep):
                self.set_attribute(step.attribute, step.value)
                step_id = step.next
            elif isinstance(step, ConditionStep):
                step_id = step.then if self.holds(step) else step.else_
            elif isinstance(step, ButtonsStep):
                self.offer(step)
                return
            elif isinstance(step, CollectStep):
                self.send(step.prompt)
                self.wait(step)
                return
            elif isinstance(step, AiAnswerStep):
                if question is not None and knowledge.has_content(question):
                    self.ask(step, question)
                else:
                    if step.prompt:
                        self.send(step.prompt)
                    self.wait(step)
                return
            elif isinstance(step, HandoffStep):
                department = step.department_id or self.flow.default_department_id
                self.hand_off(department, reason, step.message)
                return
            elif isinstance(step, CloseStep):
                self.actions.append(Close(message=step.message))
                self.status = "closed"
                self.pending = None
                return
        self.hand_off(self.flow.default_department_id, "flow", self.flow.handoff_message)

    def set_attribute(self, name: str, value: str) -> None:
        self.attributes[name] = value
        self.actions.append(SetAttribute(name=name, value=value))

    def offer(self, step: ButtonsStep) -> None:
        replies = tuple(
            QuickReply(label=option.label, value=option.reply_value) for option in step.options
        )
        self.send(step.text, replies)
        self.wait(step)

    def ask(self, step: AiAnswerStep, question: str) -> None:
        if self.context.answer is None:
            self.actions.append(RequestAnswer(step_id=step.id, question=question))
            self.wait(step)
            self.pending = question
            return
        self.resolve(step, self.context.answer(question))

    def resolve(self, step: AiAnswerStep, result: Answer | NoAnswer) -> None:
        self.pending = None
        if isinstance(result, NoAnswer):
            self.go(step.on_no_answer, reason=result.reason)
            return
        self.actions.append(SendMessage(text=result.text, source=result.source))
        if step.next_on_answer is not None:
            self.go(step.next_on_answer)
        else:
            self.wait(step)

    def receive(self, step: Step, text: str, value: str | None) -> None:
        """The visitor's message for the step the bot waits on."""
        if isinstance(step, ButtonsStep):
            chosen = value if value is not None else text
            for option in step.options:
                if _same(chosen, option.reply_value) or _same(chosen, option.label):
                    self.go(option.next)
                    return
            if step.on_other is not None and value is None:
                self.go(step.on_other, question=text)
            else:
                self.offer(step)
        elif isinstance(step, CollectStep):
            collected = fields.check(step.field, value if value is not None else text)
            if collected is not None:
                self.set_attribute(step.attribute, collected)
                self.go(step.next)
                return
            attempts = self.attempts + 1
            if attempts >= step.max_attempts:
                self.go(step.on_fail)
            else:
                self.send(step.invalid_prompt or step.prompt)
                self.wait(step, attempts)
        elif isinstance(step, AiAnswerStep):
            self.go(step.id, question=text)
        else:
            # The state points at a step that does not wait (an older flow version): re-enter.
            self.go(step.id, question=text)


def _compare(rule: AttributeRule, value: str | None) -> bool:
    if rule.op == "exists":
        return bool(value)
    if rule.op == "missing":
        return not value
    expected = (rule.value or "").strip().casefold()
    actual = (value or "").strip().casefold()
    if rule.op == "equals":
        return value is not None and actual == expected
    if rule.op == "not_equals":
        return value is None or actual != expected
    return value is not None and expected in actual


def advance(flow: Flow, state: FlowState, event: Event, context: BotContext) -> Outcome:
    """Run the flow for one event; no I/O, no clock."""
    run = _Run(flow, state, context)
    if state.status != "running":
        return Outcome(actions=(), state=state)

    if isinstance(event, AnswerReady):
        step = flow.step(state.step_id) if state.step_id else None
        if not isinstance(step, AiAnswerStep) or state.pending_question is None:
            return Outcome(actions=(), state=state)  # a stale or duplicate answer
        run.resolve(step, event.result)
        return run.outcome()

    text = clean_message_text(event.text)
    if event.value is None and intent.wants_human(text):
        run.hand_off(flow.default_department_id, "visitor_asked", flow.handoff_message)
        return run.outcome()

    current = flow.step(state.step_id) if state.step_id else None
    if current is None or state.flow_id not in (None, flow.id):
        # New conversation, or its step is gone from the current version: start over.
        run.attempts = 0
        run.go(flow.start_step, question=text or None)
    else:
        run.receive(current, text, event.value)
    return run.outcome()
