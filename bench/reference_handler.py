"""The cold-start reference: the widget API as a plain Powertools handler would write it.

A boto3 DynamoDB client, Powertools Logger and Metrics, and `APIGatewayHttpResolver` with data
validation, registering the same widget routes as template.yaml with the same pydantic models
(imported from yoosr.models, so both handlers pay for the same model classes). Only the config
route does real work: the same consistent BatchGetItem of workspace + widget key, the same
checks (revoked key, inactive workspace, allowed origin) and the same response model. The
other routes validate their inputs and answer 501: they are here for their registration and
validation cost, which is what a cold start pays for them.

Loaded by bench/cold_child.py with the function's environment from template.yaml.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import (
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer

from yoosr.domain import business_hours
from yoosr.models.common import Page
from yoosr.models.widget import (
    BusinessHoursOut,
    ConversationOut,
    ConversationStart,
    ConversationStarted,
    CsatIn,
    CsatOut,
    MessageIn,
    MessageOut,
    SessionCreate,
    SessionOut,
    VisitorOut,
    VisitorUpdate,
    WidgetConfigOut,
    WidgetLimits,
)
from yoosr.models.workspace import Workspace

WORKSPACES_TABLE = os.environ["YOOSR_WORKSPACES_TABLE"]
WIDGET_KEY = re.compile(r"^wk\.(ws_[0-9A-HJKMNP-TV-Z]{26})\.([0-9A-HJKMNP-TV-Z]{26})$")

logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
app = APIGatewayHttpResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin="*",
        allow_headers=["Authorization", "X-Yoosr-Widget-Key"],
        expose_headers=["Retry-After"],
        max_age=600,
    ),
)
_deserializer = TypeDeserializer()

ConversationId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]


class Forbidden(ServiceError):
    def __init__(self, msg: str) -> None:
        super().__init__(403, msg)


def _not_in_reference() -> ServiceError:
    return ServiceError(501, "Only the config route is implemented in the reference handler.")


def _item(av: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in av.items()}


def _workspace() -> Workspace:
    """Widget key → workspace, with one consistent BatchGetItem, as the widget does it."""
    match = WIDGET_KEY.match(app.current_event.headers.get("x-yoosr-widget-key") or "")
    if not match:
        raise UnauthorizedError("Missing or unknown widget key.")
    workspace_id, key_id = match.groups()
    keys = [
        {"pk": {"S": workspace_id}, "sk": {"S": "WORKSPACE"}},
        {"pk": {"S": workspace_id}, "sk": {"S": f"WIDGETKEY#{key_id}"}},
    ]
    response = dynamodb.batch_get_item(
        RequestItems={WORKSPACES_TABLE: {"Keys": keys, "ConsistentRead": True}}
    )
    items = {item["sk"]: item for item in map(_item, response["Responses"][WORKSPACES_TABLE])}
    workspace, key = items.get("WORKSPACE"), items.get(f"WIDGETKEY#{key_id}")
    if (
        workspace is None
        or key is None
        or key.get("revoked_at")
        or workspace.get("status") != "active"
    ):
        raise UnauthorizedError("Missing or unknown widget key.")
    model = Workspace.model_validate(workspace)
    origin = app.current_event.headers.get("origin")
    allowed = model.settings.allowed_origins
    if allowed and origin not in allowed:
        raise Forbidden("This origin is not allowed for the workspace.")
    return model


@app.get("/v1/widget/config")
def get_config() -> Response[WidgetConfigOut]:
    workspace = _workspace()
    settings = workspace.settings
    open_now, next_open = business_hours.status(settings.business_hours, datetime.now(UTC))
    body = WidgetConfigOut(
        workspace_name=workspace.name,
        greeting=settings.greeting,
        appearance=settings.appearance.model_dump(),
        business_hours=BusinessHoursOut(
            timezone=settings.business_hours.timezone if settings.business_hours else None,
            open_now=open_now,
            next_open_at=next_open.isoformat() if next_open else None,
        ),
        agents_online=workspace.agents_online > 0,
        pre_chat_fields=settings.pre_chat_fields,
        identity_verification_required=settings.identity_verification_required,
        limits=WidgetLimits(),
    )
    origin = app.current_event.headers.get("origin")
    headers = {"Vary": "Origin", **({"Access-Control-Allow-Origin": origin} if origin else {})}
    return Response(200, "application/json", body, headers)


@app.post("/v1/widget/sessions")
def create_session(body: Annotated[SessionCreate | None, Body()] = None) -> SessionOut:
    raise _not_in_reference()


@app.patch("/v1/widget/visitor")
def update_visitor(body: Annotated[VisitorUpdate, Body()]) -> VisitorOut:
    raise _not_in_reference()


@app.post("/v1/widget/conversations")
def start_conversation(
    body: Annotated[ConversationStart | None, Body()] = None,
) -> ConversationStarted:
    raise _not_in_reference()


@app.get("/v1/widget/conversations")
def list_conversations(
    limit: Limit = 50, cursor: Annotated[str | None, Query(max_length=1024)] = None
) -> Page[ConversationOut]:
    raise _not_in_reference()


@app.post("/v1/widget/conversations/<conversation_id>/messages")
def post_message(conversation_id: ConversationId, body: Annotated[MessageIn, Body()]) -> MessageOut:
    raise _not_in_reference()


@app.get("/v1/widget/conversations/<conversation_id>/messages")
def list_messages(
    conversation_id: ConversationId,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Page[MessageOut]:
    raise _not_in_reference()


@app.post("/v1/widget/conversations/<conversation_id>/csat")
def submit_csat(conversation_id: ConversationId, body: Annotated[CsatIn, Body()]) -> CsatOut:
    raise _not_in_reference()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
