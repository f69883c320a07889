"""Widget ingest: the public widget API (API.md, "Widget API"), except privacy requests.

Routes are glue: parse, one call into yoosr.widget.service, return the response model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from yoosr import ids
from yoosr.errors import BadRequest
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.models.common import Page
from yoosr.models.widget import (
    ConversationOut,
    ConversationStart,
    ConversationStarted,
    CsatIn,
    CsatOut,
    HandoffIn,
    MessageIn,
    MessageOut,
    SessionCreate,
    SessionOut,
    VisitorOut,
    VisitorUpdate,
    WidgetConfigOut,
)
from yoosr.settings import WidgetIngestSettings, get_settings
from yoosr.widget import service
from yoosr.widget.auth import WidgetCaller
from yoosr.widget.cors import WidgetCors
from yoosr.widget.http import Authorization, WidgetKey, widget_caller

settings = get_settings(WidgetIngestSettings)
app = create_app(
    title="Yoosr widget API",
    description="Public API for the Yoosr chat widget. Every call carries "
    "X-Yoosr-Widget-Key; calls after a session also carry "
    "Authorization: Bearer <session token>.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[WidgetCors],
)

ConversationId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]


def workspace_caller(request: Request, widget_key: WidgetKey = None) -> WidgetCaller:
    return widget_caller(settings, request, widget_key, None, need_session=False)


def visitor_caller(
    request: Request, widget_key: WidgetKey = None, authorization: Authorization = None
) -> WidgetCaller:
    return widget_caller(settings, request, widget_key, authorization, need_session=True)


def conversation_caller(
    request: Request,
    conversation_id: ConversationId,
    widget_key: WidgetKey = None,
    authorization: Authorization = None,
) -> WidgetCaller:
    return widget_caller(
        settings,
        request,
        widget_key,
        authorization,
        need_session=True,
        conversation_id=conversation_id,
    )


Workspace = Annotated[WidgetCaller, Depends(workspace_caller)]
Visitor = Annotated[WidgetCaller, Depends(visitor_caller)]
InConversation = Annotated[WidgetCaller, Depends(conversation_caller)]


@app.get("/v1/widget/config", response_model=WidgetConfigOut, responses=ERROR_RESPONSES)
def get_config(caller: Workspace) -> WidgetConfigOut:
    """Greeting, appearance, business hours and whether agents are online."""
    return service.widget_config(settings, caller)


@app.post(
    "/v1/widget/sessions", status_code=201, response_model=SessionOut, responses=ERROR_RESPONSES
)
def create_session(
    request: Request, caller: Workspace, body: SessionCreate | None = None
) -> SessionOut:
    """A new visitor session. The token is opaque (256 random bits) and holds no personal
    data; it is what the widget's cookie keeps. Sessions are not deduplicated: a retry makes
    another anonymous session, since the token is a secret the server does not keep."""
    return service.create_session(
        settings,
        caller,
        body or SessionCreate(),
        user_agent=request.headers.get("user-agent"),
        accept_language=request.headers.get("accept-language"),
        viewer_country=request.headers.get("cloudfront-viewer-country"),
    )


@app.patch("/v1/widget/visitor", response_model=VisitorOut, responses=ERROR_RESPONSES)
def update_visitor(caller: Visitor, body: VisitorUpdate) -> VisitorOut:
    """Set (or with null, clear) the visitor's name, email or phone."""
    return service.update_visitor(settings, caller, body)


@app.post(
    "/v1/widget/conversations",
    status_code=201,
    response_model=ConversationStarted,
    responses={
        **ERROR_RESPONSES,
        200: {"model": ConversationStarted, "description": "Replay of the same client id"},
    },
)
def start_conversation(
    response: Response, caller: Visitor, body: ConversationStart | None = None
) -> ConversationStarted:
    """Start a conversation, optionally with its first message. Idempotent on
    client_conversation_id (or the first message's client_message_id)."""
    started, created = service.start_conversation(settings, caller, body or ConversationStart())
    response.status_code = 201 if created else 200
    return started


@app.get(
    "/v1/widget/conversations", response_model=Page[ConversationOut], responses=ERROR_RESPONSES
)
def list_conversations(
    caller: Visitor, limit: Limit = 50, cursor: Annotated[str | None, Query(max_length=1024)] = None
) -> Page[ConversationOut]:
    """This visitor's conversations, newest first."""
    return service.list_conversations(settings, caller, limit, cursor)


@app.post(
    "/v1/widget/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=MessageOut,
    responses={
        **ERROR_RESPONSES,
        **CONFLICT_RESPONSE,  # client_message_id_reused: the same id with a different text
        200: {"model": MessageOut, "description": "Replay of the same client_message_id"},
    },
)
def post_message(response: Response, caller: InConversation, body: MessageIn) -> MessageOut:
    """201 for a new message; 200 with the same body when client_message_id repeats."""
    message, created = service.post_message(
        settings, caller, body.client_message_id, body.text, body.reply_value
    )
    response.status_code = 201 if created else 200
    return message


@app.get(
    "/v1/widget/conversations/{conversation_id}/messages",
    response_model=Page[MessageOut],
    responses=ERROR_RESPONSES,
)
def list_messages(
    caller: InConversation,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Page[MessageOut]:
    """Messages after the message id `after` (visitor, bot, agent; never private notes)."""
    if after is not None and not ids.MESSAGE_ID.match(after):
        raise BadRequest("`after` must be a message id.", code="invalid_cursor")
    return service.list_messages(settings, caller, after, limit)


@app.post(
    "/v1/widget/conversations/{conversation_id}/handoff",
    response_model=ConversationOut,
    responses={
        **ERROR_RESPONSES,
        202: {"model": ConversationOut, "description": "Handed off: waiting for an agent"},
    },
)
def request_human(
    response: Response, caller: InConversation, body: HandoffIn | None = None
) -> ConversationOut:
    """The visitor asks for a human. 202 when the conversation was handed off now (an agent is
    assigned automatically, or it waits in line: see queue_position and
    inside_business_hours); 200 when humans already had it."""
    conversation, handed_off = service.request_human(settings, caller, body or HandoffIn())
    response.status_code = 202 if handed_off else 200
    return conversation


@app.post(
    "/v1/widget/conversations/{conversation_id}/csat",
    status_code=201,
    response_model=CsatOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def submit_csat(caller: InConversation, body: CsatIn) -> CsatOut:
    """Rate the conversation 1..5 once; a second rating is 409."""
    return service.rate_conversation(settings, caller, body)


lambda_handler = lambda_handler_for(app)
