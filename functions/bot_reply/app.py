"""Bot administration: the dashboard API for bot flows, the knowledge base and the preview
playground (API.md, "Dashboard API"; docs/bot.md for the flow format).

Every route needs a Clerk session token of the workspace's organization, role admin
(yoosr.dashboard.access.ROUTE_ROLES). Routes are glue: parse, one call into yoosr.bot.admin,
return the response model.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Path, Query, Response

from yoosr.bot import admin
from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.cors import dashboard_cors
from yoosr.dashboard.http import caller_dependency
from yoosr.http import ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.models.bot import (
    FLOW_BODY_DESCRIPTION,
    FLOW_EXAMPLE,
    FlowOut,
    FlowSummaryOut,
    KnowledgeIn,
    KnowledgeOut,
    PreviewIn,
    PreviewOut,
)
from yoosr.models.common import Page
from yoosr.settings import BotAdminSettings, get_settings

settings = get_settings(BotAdminSettings)
app = create_app(
    title="Yoosr bot administration API",
    description="Dashboard API (Clerk session token as Authorization: Bearer, role admin) for "
    "bot flows, the knowledge base the bot answers from, and a preview that runs the bot on "
    f"a sample transcript without side effects. At most {settings.max_flows} flows and "
    f"{settings.max_knowledge_entries} knowledge entries per workspace; request bodies up to "
    f"{settings.max_body_bytes} bytes.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[dashboard_cors(lambda: settings.authorized_parties)],
)

Caller = Annotated[DashboardCaller, Depends(caller_dependency(lambda: settings))]
FlowId = Annotated[str, Path(max_length=64)]
EntryId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (default 50, max 200).")]
Cursor = Annotated[str | None, Query(max_length=1024, description="next_cursor of a page.")]
FlowBody = Annotated[
    dict[str, Any],
    Body(description=FLOW_BODY_DESCRIPTION, openapi_examples={"welcome": {"value": FLOW_EXAMPLE}}),
]
CONFLICT = {409: {"description": "Limit reached, or (PUT) the flow changed since `version`"}}
NO_FLOW = {409: {"description": "No flow_id and no greeting flow (no_greeting_flow)"}}

# ---------------------------------------------------------------- flows


@app.get("/v1/bot/flows", response_model=Page[FlowSummaryOut], responses=ERROR_RESPONSES)
def list_flows(caller: Caller, limit: Limit = 50, cursor: Cursor = None) -> Page[FlowSummaryOut]:
    """The workspace's flows, oldest first, without their steps."""
    return admin.list_flows(settings, caller, limit, cursor)


@app.post(
    "/v1/bot/flows",
    status_code=201,
    response_model=FlowOut,
    responses={**ERROR_RESPONSES, **CONFLICT},
)
def create_flow(caller: Caller, body: FlowBody) -> FlowOut:
    """Validate and save a new flow (422 details name the step at fault). The workspace's
    first flow greets new conversations unless `active: false`; 409 `flow_limit` beyond the
    maximum number of flows."""
    return admin.create_flow(settings, caller, body)


@app.get("/v1/bot/flows/{flow_id}", response_model=FlowOut, responses=ERROR_RESPONSES)
def get_flow(caller: Caller, flow_id: FlowId) -> FlowOut:
    return admin.get_flow(settings, caller, flow_id)


@app.put(
    "/v1/bot/flows/{flow_id}",
    response_model=FlowOut,
    responses={**ERROR_RESPONSES, **CONFLICT},
)
def replace_flow(caller: Caller, flow_id: FlowId, body: FlowBody) -> FlowOut:
    """Replace the flow's definition; its version goes up by one. Conversations already in
    the flow continue on the new version."""
    return admin.replace_flow(settings, caller, flow_id, body)


@app.delete(
    "/v1/bot/flows/{flow_id}",
    status_code=204,
    response_class=Response,
    responses=ERROR_RESPONSES,
)
def delete_flow(caller: Caller, flow_id: FlowId) -> Response:
    """Delete a flow. Deleting the greeting flow leaves the workspace without one until
    another is marked active."""
    admin.delete_flow(settings, caller, flow_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- knowledge


@app.get("/v1/bot/knowledge", response_model=Page[KnowledgeOut], responses=ERROR_RESPONSES)
def list_knowledge(caller: Caller, limit: Limit = 50, cursor: Cursor = None) -> Page[KnowledgeOut]:
    """The knowledge base, oldest entry first."""
    return admin.list_knowledge(settings, caller, limit, cursor)


@app.post(
    "/v1/bot/knowledge",
    status_code=201,
    response_model=KnowledgeOut,
    responses={**ERROR_RESPONSES, **CONFLICT},
)
def create_knowledge(caller: Caller, body: KnowledgeIn) -> KnowledgeOut:
    """A new entry; 409 `knowledge_limit` beyond the maximum number of entries."""
    return admin.create_knowledge(settings, caller, body)


@app.get("/v1/bot/knowledge/{entry_id}", response_model=KnowledgeOut, responses=ERROR_RESPONSES)
def get_knowledge(caller: Caller, entry_id: EntryId) -> KnowledgeOut:
    return admin.get_knowledge(settings, caller, entry_id)


@app.put("/v1/bot/knowledge/{entry_id}", response_model=KnowledgeOut, responses=ERROR_RESPONSES)
def replace_knowledge(caller: Caller, entry_id: EntryId, body: KnowledgeIn) -> KnowledgeOut:
    """Replace the entry's title, content and tags; the bot answers from it at once."""
    return admin.replace_knowledge(settings, caller, entry_id, body)


@app.delete(
    "/v1/bot/knowledge/{entry_id}",
    status_code=204,
    response_class=Response,
    responses=ERROR_RESPONSES,
)
def delete_knowledge(caller: Caller, entry_id: EntryId) -> Response:
    admin.delete_knowledge(settings, caller, entry_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- preview


@app.post(
    "/v1/bot/preview",
    response_model=PreviewOut,
    responses={**ERROR_RESPONSES, **NO_FLOW},
)
def preview(caller: Caller, body: PreviewIn) -> PreviewOut:
    """Run the bot on a sample transcript from a new conversation: each message's reply
    actions and the final flow state. The AI step answers from the knowledge base only (no
    model call, no budget); nothing is written."""
    return admin.run_preview(settings, caller, body)


lambda_handler = lambda_handler_for(app)
