"""Widget credentials: the public widget key names the workspace; the session token names the
visitor. Everything the request needs (workspace, key, session and, for conversation routes,
the conversation) is read in one consistent BatchGetItem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from yoosr import ids
from yoosr.errors import Forbidden, NotFound, Unauthorized
from yoosr.models.workspace import Workspace
from yoosr.settings import WidgetIngestSettings
from yoosr.store import ddb, keys
from yoosr.widget import cors

WIDGET_KEY = re.compile(rf"^wk\.(ws_{ids.ULID_PATTERN})\.({ids.ULID_PATTERN})$")
SESSION_TOKEN_PREFIX = "yst"  # noqa: S105 - a token prefix, not a secret
SESSION_TOKEN = re.compile(r"^yst_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class WidgetCaller:
    workspace: Workspace
    key_id: str
    client_ip: str
    visitor_id: str | None = None
    conversation: dict[str, Any] | None = None

    @property
    def workspace_id(self) -> str:
        return self.workspace.workspace_id

    def require_visitor(self) -> str:
        if self.visitor_id is None:  # a route wired without a session dependency
            raise Unauthorized(code="invalid_session")
        return self.visitor_id

    def require_conversation(self) -> dict[str, Any]:
        if self.conversation is None:
            raise NotFound("Conversation not found.")
        return self.conversation


def new_widget_key(workspace_id: str) -> tuple[str, str]:
    """(key id, public widget key) for a workspace."""
    key_id = ids.ulid()
    return key_id, f"wk.{workspace_id}.{key_id}"


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(
    settings: WidgetIngestSettings,
    *,
    widget_key: str | None,
    origin: str | None,
    client_ip: str,
    session_token: str | None,
    need_session: bool,
    conversation_id: str | None,
    state: dict[str, Any],
) -> WidgetCaller:
    """Check key → workspace → origin → session → conversation, in that order, so a caller
    learns nothing about a session or a conversation before proving the earlier steps.

    `state` receives the origin to echo in CORS headers once the origin is known to be allowed.
    """
    match = WIDGET_KEY.match(widget_key or "")
    if not match:
        raise Unauthorized("Missing or unknown widget key.", code="invalid_widget_key")
    workspace_id, key_id = match.groups()
    if need_session and not SESSION_TOKEN.match(session_token or ""):
        raise Unauthorized("Missing or invalid session token.", code="invalid_session")
    conversation_ok = conversation_id is not None and ids.CONVERSATION_ID.match(conversation_id)

    wanted: dict[str, list[tuple[str, str]]] = {
        settings.workspaces_table: [
            keys.workspace(workspace_id),
            keys.widget_key(workspace_id, key_id),
        ],
    }
    session_key = conversation_key = None
    if need_session:
        assert session_token is not None
        session_key = keys.session(workspace_id, ids.digest(session_token))
        wanted[settings.ephemeral_table] = [session_key]
    if conversation_ok:
        assert conversation_id is not None
        conversation_key = keys.conversation(workspace_id, conversation_id)
        wanted[settings.conversations_table] = [conversation_key]
    found = ddb.batch_get(wanted)

    workspace_item = found.get((settings.workspaces_table, *keys.workspace(workspace_id)))
    key_item = found.get((settings.workspaces_table, *keys.widget_key(workspace_id, key_id)))
    if (
        workspace_item is None
        or key_item is None
        or key_item.get("revoked_at")
        or workspace_item.get("status") != "active"
    ):
        raise Unauthorized("Missing or unknown widget key.", code="invalid_widget_key")
    try:
        workspace = Workspace.model_validate(workspace_item)
    except ValidationError as error:
        raise RuntimeError("stored workspace settings are invalid") from error

    if not cors.allowed(origin, workspace.settings.allowed_origins):
        raise Forbidden("This origin is not allowed for the workspace.", code="origin_not_allowed")
    if origin:
        state[cors.STATE_KEY] = origin

    visitor_id = None
    if session_key is not None:
        session = found.get((settings.ephemeral_table, *session_key))
        if session is None:
            raise Unauthorized("The session has expired or is not valid.", code="invalid_session")
        visitor_id = str(session["visitor_id"])

    conversation = None
    if conversation_id is not None:
        conversation = (
            found.get((settings.conversations_table, *conversation_key))
            if conversation_key
            else None
        )
        if conversation is None or conversation.get("visitor_id") != visitor_id:
            raise NotFound("Conversation not found.")
    return WidgetCaller(workspace, key_id, client_ip, visitor_id, conversation)
