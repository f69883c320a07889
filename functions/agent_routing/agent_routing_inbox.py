"""Inbox routes of the agent_routing function: conversations, replies and notes, assignment,
resolve/reopen, labels (API.md, "Dashboard API"). Minimum roles live in
yoosr.dashboard.access.ROUTE_ROLES, keyed by these exact path templates.

Routes are glue: parse, one call into yoosr.routing.inbox, return the response model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.http import caller_dependency
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES
from yoosr.models.common import Page
from yoosr.models.inbox import (
    DEPARTMENT_ID_PATTERN,
    LABEL_ID_PATTERN,
    AssignIn,
    ConversationDetail,
    InboxConversation,
    InboxMessage,
    LabelsIn,
    ReplyIn,
)
from yoosr.routing import inbox
from yoosr.settings import AgentRoutingSettings, get_settings


def settings() -> AgentRoutingSettings:
    return get_settings(AgentRoutingSettings)


router = APIRouter(responses=ERROR_RESPONSES, tags=["conversations"])
Caller = Annotated[DashboardCaller, Depends(caller_dependency(settings))]
ConversationId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (default 50, max 200).")]


@router.get("/v1/conversations", response_model=Page[InboxConversation])
def list_conversations(
    caller: Caller,
    status: Annotated[Literal["open", "resolved"], Query()] = "open",
    department_id: Annotated[str | None, Query(pattern=DEPARTMENT_ID_PATTERN)] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=128, description="`me`, `unassigned` or an agent's user id."),
    ] = None,
    owner: Annotated[Literal["bot", "human"] | None, Query()] = None,
    label: Annotated[str | None, Query(pattern=LABEL_ID_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Page[InboxConversation]:
    """The inbox, newest activity first. A label (or a second filter) narrows an index read,
    so a page may hold fewer than `limit` items and still have a next_cursor."""
    return inbox.list_conversations(
        settings(),
        caller,
        status=status,
        department_id=department_id,
        assignee=assignee,
        owner=owner,
        label=label,
        limit=limit,
        cursor=cursor,
    )


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationDetail)
def get_conversation(caller: Caller, conversation_id: ConversationId) -> ConversationDetail:
    """The conversation with its visitor's attributes and, while waiting, its queue position."""
    return inbox.get_conversation(settings(), caller, conversation_id)


@router.get("/v1/conversations/{conversation_id}/messages", response_model=Page[InboxMessage])
def list_messages(
    caller: Caller,
    conversation_id: ConversationId,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Page[InboxMessage]:
    """Messages and private notes in order, after the message or note id `after`."""
    return inbox.list_messages(settings(), caller, conversation_id, after, limit)


@router.post(
    "/v1/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=InboxMessage,
    responses={
        200: {"model": InboxMessage, "description": "Replay of the same client id"},
        **CONFLICT_RESPONSE,
    },
)
def post_message(
    response: Response, caller: Caller, conversation_id: ConversationId, body: ReplyIn
) -> InboxMessage:
    """A reply the visitor sees, or with `private: true` a note only agents see. Replying to a
    conversation nobody holds makes the caller its assignee."""
    message, created = inbox.post_message(settings(), caller, conversation_id, body)
    response.status_code = 201 if created else 200
    return message


@router.post(
    "/v1/conversations/{conversation_id}/assign",
    response_model=InboxConversation,
    responses=CONFLICT_RESPONSE,
)
def assign(caller: Caller, conversation_id: ConversationId, body: AssignIn) -> InboxConversation:
    """`{agent_id}` assigns to that agent; `{department_id}` transfers to that department's
    queue (it keeps its place by original arrival)."""
    return inbox.assign(settings(), caller, conversation_id, body)


@router.post(
    "/v1/conversations/{conversation_id}/resolve",
    response_model=InboxConversation,
    responses=CONFLICT_RESPONSE,
)
def resolve(caller: Caller, conversation_id: ConversationId) -> InboxConversation:
    """Resolve; the agent's slot is freed and the queue moves at once."""
    return inbox.resolve(settings(), caller, conversation_id)


@router.post(
    "/v1/conversations/{conversation_id}/reopen",
    response_model=InboxConversation,
    responses=CONFLICT_RESPONSE,
)
def reopen(caller: Caller, conversation_id: ConversationId) -> InboxConversation:
    """Reopen; a human-owned conversation goes to the agent who reopens it."""
    return inbox.reopen(settings(), caller, conversation_id)


@router.post(
    "/v1/conversations/{conversation_id}/labels",
    response_model=InboxConversation,
    responses=CONFLICT_RESPONSE,
)
def change_labels(
    caller: Caller, conversation_id: ConversationId, body: LabelsIn
) -> InboxConversation:
    """`{add: [label ids], remove: [label ids]}`; added labels must exist."""
    return inbox.change_labels(settings(), caller, conversation_id, body)
