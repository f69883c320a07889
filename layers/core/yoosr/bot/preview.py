"""The preview playground: what the bot would say and do for a sample transcript.

Pure: the caller passes the flow, the context and an answer function; nothing here reads or
writes anything. Each message is one `engine.advance` from the state the previous one left,
starting from a new conversation, exactly as the bot replies to a visitor. The AI step is
answered offline (`offline_answerer`: the workspace's knowledge base when retrieval is
confident, else a handoff), so a preview never calls a model or spends a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from yoosr.bot.answering import offline_answer
from yoosr.bot.engine import (
    Action,
    Answer,
    AnswerFn,
    BotContext,
    Close,
    FlowState,
    Handoff,
    NoAnswer,
    SendMessage,
    SetAttribute,
    VisitorMessage,
    advance,
)
from yoosr.bot.flows import Flow
from yoosr.bot.knowledge import KnowledgeIndex
from yoosr.models.bot import (
    ActionOut,
    CloseActionOut,
    HandoffActionOut,
    MessageActionOut,
    PreviewOut,
    PreviewStateOut,
    PreviewTurnOut,
    QuickReplyOut,
    SetAttributeActionOut,
)


def offline_answerer(
    index: Callable[[], KnowledgeIndex], allowed_domains: Collection[str]
) -> AnswerFn:
    """Answers from the knowledge base only. The index is loaded on the first question, so a
    flow without an AI step (or a transcript that never reaches it) reads no knowledge."""
    loaded: list[KnowledgeIndex] = []

    def answer(question: str) -> Answer | NoAnswer:
        if not loaded:
            loaded.append(index())
        return offline_answer(loaded[0], question, allowed_domains)

    return answer


def action_out(action: Action) -> ActionOut | None:
    if isinstance(action, SendMessage):
        buttons = [QuickReplyOut(label=b.label, value=b.value) for b in action.buttons]
        return MessageActionOut(text=action.text, buttons=buttons or None, source=action.source)
    if isinstance(action, SetAttribute):
        return SetAttributeActionOut(name=action.name, value=action.value)
    if isinstance(action, Handoff):
        return HandoffActionOut(
            department_id=action.department_id, reason=action.reason, message=action.message
        )
    if isinstance(action, Close):
        return CloseActionOut(message=action.message)
    # RequestAnswer: only without an answer function, which a preview always has.
    return None


def run(flow: Flow, messages: Sequence[VisitorMessage], context: BotContext) -> PreviewOut:
    """Every message in order from a new conversation; after a handoff or a close the bot is
    silent, so later turns have no actions (as a visitor would see)."""
    state = FlowState()
    turns = []
    for message in messages:
        outcome = advance(flow, state, message, context)
        state = outcome.state
        actions = [out for out in map(action_out, outcome.actions) if out is not None]
        turns.append(PreviewTurnOut(text=message.text, value=message.value, actions=actions))
    return PreviewOut(
        turns=turns,
        state=PreviewStateOut(
            flow_id=flow.id,
            flow_version=flow.version,
            step_id=state.step_id,
            status=state.status,
            attributes=dict(state.attributes),
        ),
    )
