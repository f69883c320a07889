"""Widget use cases. Each takes the authenticated caller and a validated body and returns a
response model; routes in functions/widget_ingest only adapt HTTP to these calls."""

from __future__ import annotations

from typing import Any

from yoosr import clock, ids
from yoosr.analytics import inputs
from yoosr.domain import business_hours, hashing, useragent
from yoosr.domain.redaction import redact_card_numbers
from yoosr.errors import (
    ConditionFailed,
    Conflict,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from yoosr.models.common import Page
from yoosr.models.routing import ConversationState
from yoosr.models.widget import (
    BusinessHoursOut,
    ConversationOut,
    ConversationStart,
    ConversationStarted,
    CsatIn,
    CsatOut,
    HandoffIn,
    MessageOut,
    SessionCreate,
    SessionOut,
    VisitorOut,
    VisitorUpdate,
    WidgetConfigOut,
    WidgetLimits,
)
from yoosr.observability import count, logger
from yoosr.routing import handoff, notices, transitions, waiting
from yoosr.settings import WidgetIngestSettings
from yoosr.store import agents, assignment, conversations, ephemeral, visitors
from yoosr.store.secrets import get_secret
from yoosr.widget.auth import SESSION_TOKEN_PREFIX, WidgetCaller

DAY = 86_400


# ---------------------------------------------------------------- helpers


def _subject_key(settings: WidgetIngestSettings) -> str:
    return get_secret(settings.subject_hash_key_secret, settings.secret_max_age_seconds)


def _limit(settings: WidgetIngestSettings, caller: WidgetCaller, *, write: bool) -> None:
    """Per-session, per-IP and per-workspace fixed windows; the first limit passed wins."""
    window = settings.rate_window_seconds
    checks: list[tuple[str, str, int]] = []
    if caller.visitor_id is not None:
        checks.append(
            (
                "session_w" if write else "session_r",
                caller.visitor_id,
                settings.rate_session_writes if write else settings.rate_session_reads,
            )
        )
    if write:
        ip_key = hashing.keyed_hash(_subject_key(settings), "ip", caller.client_ip)[:32]
        checks.append(("ip", ip_key, settings.rate_ip_writes))
        checks.append(("workspace", "all", settings.rate_workspace_writes))
    for dimension, subject, limit in checks:
        hits, retry_after = ephemeral.count_hit(
            settings.ephemeral_table, caller.workspace_id, dimension, subject, window
        )
        if hits > limit:
            logger.info("rate limited", extra={"dimension": dimension})
            count("RateLimited")
            raise RateLimited(retry_after)


def _retention_expiry(caller: WidgetCaller) -> int | None:
    days = caller.workspace.settings.retention_days
    return clock.epoch() + days * DAY if days else None


def _message_out(item: dict[str, Any]) -> MessageOut:
    return MessageOut(
        id=item["message_id"],
        conversation_id=item["conversation_id"],
        sender_type=item["sender_type"],
        text=item["text"],
        created_at=item["created_at"],
        client_message_id=item.get("client_message_id"),
        agent_id=item.get("agent_id"),
        buttons=item.get("buttons"),
        reply_value=item.get("reply_value"),
    )


def _conversation_out(item: dict[str, Any]) -> ConversationOut:
    return ConversationOut(
        id=item["conversation_id"],
        status=item["status"],
        owner=item["owner"],
        department_id=item.get("department_id"),
        assignee_id=item.get("assignee_id"),
        queue_position=item.get("queue_position"),
        created_at=item["created_at"],
        last_activity_at=item["last_activity_at"],
        last_message_preview=item.get("last_message_preview"),
        message_count=int(item.get("message_count", 0)),
        csat_rating=item.get("csat_rating"),
    )


def _routing_tables(settings: WidgetIngestSettings) -> assignment.Tables:
    return assignment.Tables(settings.workspaces_table, settings.conversations_table)


def _conversations_out(
    settings: WidgetIngestSettings, caller: WidgetCaller, items: list[dict[str, Any]]
) -> list[ConversationOut]:
    """Conversation objects; once humans own one, with its place in line (while waiting) and
    whether its team is inside business hours (department hours override the workspace's)."""
    human = {
        i["conversation_id"]: i
        for i in items
        if i.get("owner") == "human" and i.get("status") == "open"
    }
    if not human:
        return [_conversation_out(i) for i in items]
    tables = _routing_tables(settings)
    departments = assignment.departments(
        settings.workspaces_table,
        caller.workspace_id,
        [i["department_id"] for i in human.values() if i.get("department_id")],
    )
    now = clock.now()
    out = []
    for item in items:
        conversation = _conversation_out(item)
        if item["conversation_id"] in human:
            hours = waiting.hours_for(
                caller.workspace.settings.business_hours,
                departments.get(item.get("department_id") or ""),
            )
            available = notices.availability(hours, now, agents_online=True)
            conversation = conversation.model_copy(
                update={
                    "queue_position": waiting.queue_position(tables, caller.workspace_id, item),
                    "inside_business_hours": available.inside_business_hours,
                    "next_open_at": available.next_open_iso,
                }
            )
        out.append(conversation)
    return out


def _visitor_message(
    caller: WidgetCaller,
    conversation_id: str,
    client_message_id: str,
    text: str,
    reply_value: str | None = None,
) -> tuple[dict[str, Any], str]:
    """A visitor message item (card numbers redacted) and the digest of what was sent (a
    tapped quick reply's value is part of it: the same id with another value is a conflict)."""
    extra: dict[str, Any] = {
        "client_message_id": client_message_id,
        "visitor_id": caller.visitor_id,
    }
    if reply_value is not None:
        extra["reply_value"] = reply_value
    item = conversations.message_item(
        caller.workspace_id,
        conversation_id,
        ids.new_id("msg"),
        "visitor",
        redact_card_numbers(text),
        clock.iso(),
        _retention_expiry(caller),
        extra,
    )
    return item, ids.digest(text if reply_value is None else f"{text}\x00{reply_value}")


def _contact_fields(
    settings: WidgetIngestSettings,
    workspace_id: str,
    name: str | None,
    email: str | None,
    phone: str | None,
) -> dict[str, Any]:
    return visitors.contact_fields(
        lambda: _subject_key(settings), workspace_id, name=name, email=email, phone=phone
    )


# ---------------------------------------------------------------- use cases


def widget_config(settings_: WidgetIngestSettings, caller: WidgetCaller) -> WidgetConfigOut:
    settings = caller.workspace.settings
    open_now, next_open = business_hours.status(settings.business_hours, clock.now())
    return WidgetConfigOut(
        workspace_name=caller.workspace.name,
        greeting=settings.greeting,
        appearance=settings.appearance.model_dump(),
        business_hours=BusinessHoursOut(
            timezone=settings.business_hours.timezone if settings.business_hours else None,
            open_now=open_now,
            next_open_at=clock.iso(next_open) if next_open else None,
        ),
        agents_online=agents.any_online(
            settings_.workspaces_table, caller.workspace_id, clock.epoch()
        ),
        pre_chat_fields=settings.pre_chat_fields,
        identity_verification_required=settings.identity_verification_required,
        limits=WidgetLimits(),
    )


def create_session(
    settings: WidgetIngestSettings,
    caller: WidgetCaller,
    body: SessionCreate,
    user_agent: str | None,
    accept_language: str | None,
    viewer_country: str | None,
) -> SessionOut:
    _limit(settings, caller, write=True)
    workspace = caller.workspace
    device = {
        **useragent.describe(user_agent),
        "language": useragent.language(accept_language),
        "page_url": useragent.page_url(body.page_url),
        "country": useragent.country(viewer_country or body.country),
    }
    identity = body.identity
    verified = False
    if identity is not None and identity.user_hash is not None:
        secret = workspace.settings.identity_secret
        if not secret or not hashing.identity_valid(secret, identity.user_id, identity.user_hash):
            raise Unauthorized(
                "The identity could not be verified.", code="identity_verification_failed"
            )
        verified = True
    elif identity is not None and workspace.settings.identity_verification_required:
        raise Unauthorized(
            "This workspace requires a verified identity (user_hash).",
            code="identity_verification_required",
        )

    attributes = _contact_fields(
        settings,
        caller.workspace_id,
        identity.name if identity else None,
        identity.email if identity else None,
        None,
    )
    # Privacy keys: the keyed hash of the visitor id (by_workspace: purges, tombstone
    # replays) and the identity link a verified visitor is bound to (erased with it).
    key = _subject_key(settings)
    new_id = ids.new_id("vis")
    user_key = hashing.keyed_hash(key, "user", identity.user_id) if verified and identity else None
    new_visitor = visitors.new_visitor_item(
        caller.workspace_id,
        new_id,
        attributes,
        device,
        verified,
        visitor_key=hashing.subject_hash(key, "visitor", new_id),
        identity_key=user_key,
    )
    if user_key is not None:
        visitor_id = visitors.find_identified(
            settings.visitors_table, caller.workspace_id, user_key
        )
        if visitor_id is None:
            visitor_id = visitors.create_identified(settings.visitors_table, new_visitor, user_key)
        if visitor_id != new_visitor["visitor_id"]:
            visitors.touch(
                settings.visitors_table,
                caller.workspace_id,
                visitor_id,
                {
                    "last_seen_at": clock.iso(),
                    "device": device,
                    "identity_key": user_key,
                    **attributes,
                },
            )
    else:
        visitors.create(settings.visitors_table, new_visitor)
        visitor_id = new_visitor["visitor_id"]

    token = ids.new_token(SESSION_TOKEN_PREFIX)
    expires_at = clock.epoch() + settings.session_ttl_hours * 3600
    ephemeral.put_session(
        settings.ephemeral_table,
        ephemeral.session_item(caller.workspace_id, ids.digest(token), visitor_id, expires_at),
    )
    count("SessionsCreated")
    logger.info(
        "session created",
        extra={"workspace_id": caller.workspace_id, "identity_verified": verified},
    )
    return SessionOut(
        session_token=token, visitor_id=visitor_id, expires_at=clock.iso_from_epoch(expires_at)
    )


def update_visitor(
    settings: WidgetIngestSettings, caller: WidgetCaller, body: VisitorUpdate
) -> VisitorOut:
    visitor_id = caller.require_visitor()
    _limit(settings, caller, write=True)
    given = body.model_dump(include=body.model_fields_set)
    set_fields = _contact_fields(
        settings, caller.workspace_id, given.get("name"), given.get("email"), given.get("phone")
    )
    removed = [name for name, value in given.items() if value is None]
    removed += [f"{name}_key" for name in removed if name in ("email", "phone")]
    try:
        item = visitors.update_attributes(
            settings.visitors_table, caller.workspace_id, visitor_id, set_fields, removed
        )
    except ConditionFailed as error:
        raise Unauthorized(
            "The session has expired or is not valid.", code="invalid_session"
        ) from error
    return VisitorOut(
        visitor_id=visitor_id,
        name=item.get("name"),
        email=item.get("email"),
        phone=item.get("phone"),
        identity_verified=bool(item.get("identity_verified")),
    )


def start_conversation(
    settings: WidgetIngestSettings, caller: WidgetCaller, body: ConversationStart
) -> tuple[ConversationStarted, bool]:
    visitor_id = caller.require_visitor()
    _limit(settings, caller, write=True)
    conversation_id = ids.new_id("conv")
    expires_at = _retention_expiry(caller)
    item = conversations.conversation_item(
        caller.workspace_id, conversation_id, visitor_id, clock.iso(), expires_at, owner="bot"
    )
    item.update(inputs.initial(item["created_at"], channel="widget"))
    first = None
    if body.message is not None:
        message, digest = _visitor_message(
            caller,
            conversation_id,
            body.message.client_message_id,
            body.message.text,
            body.message.reply_value,
        )
        first = (message, body.message.client_message_id, digest)
    dedupe = body.client_conversation_id or (
        f"m:{body.message.client_message_id}" if body.message else None
    )
    conversation, message_written = conversations.start(
        settings.conversations_table, item, dedupe, first
    )
    if conversation.created:
        count("ConversationsStarted")
        logger.info(
            "conversation started",
            extra={"workspace_id": caller.workspace_id, "conversation_id": conversation_id},
        )
    out = ConversationStarted(
        **_conversation_out(conversation.item).model_dump(),
        message=_message_out(message_written.item) if message_written else None,
    )
    return out, conversation.created


def list_conversations(
    settings: WidgetIngestSettings, caller: WidgetCaller, limit: int, cursor: str | None
) -> Page[ConversationOut]:
    visitor_id = caller.require_visitor()
    _limit(settings, caller, write=False)
    items, next_cursor = conversations.list_for_visitor(
        settings.conversations_table, caller.workspace_id, visitor_id, limit, cursor
    )
    return Page[ConversationOut](
        items=_conversations_out(settings, caller, items), next_cursor=next_cursor
    )


def post_message(
    settings: WidgetIngestSettings,
    caller: WidgetCaller,
    client_message_id: str,
    text: str,
    reply_value: str | None = None,
) -> tuple[MessageOut, bool]:
    visitor_id = caller.require_visitor()
    conversation = caller.require_conversation()
    _limit(settings, caller, write=True)
    message, digest = _visitor_message(
        caller, conversation["conversation_id"], client_message_id, text, reply_value
    )
    for attempt in range(3):
        # Writing into a resolved conversation reopens it (a human-owned one is then queued
        # again by the routing stream consumer).
        state = ConversationState.of(conversation)
        reopen = (state, transitions.visitor_reopen(state)) if state.status == "resolved" else None
        # A reopen starts a new cycle (analytics inputs, docs/metrics.md).
        patch = (
            inputs.for_write(conversation, reopen[1], message["created_at"], [message])
            if reopen
            else inputs.Patch()
        )
        try:
            written = conversations.append_visitor_message(
                settings.conversations_table,
                visitor_id,
                message,
                client_message_id,
                digest,
                _retention_expiry(caller),
                reopen,
                (patch.sets, patch.removes),
            )
            break
        except conversations.ConversationChanged as changed:
            fresh = conversations.get(
                settings.conversations_table, caller.workspace_id, message["conversation_id"]
            )
            if fresh is None:
                raise NotFound("Conversation not found.") from changed
            if attempt == 2:
                raise Unavailable(headers={"Retry-After": "1"}) from changed
            conversation = fresh
        except LookupError as error:
            raise NotFound("Conversation not found.") from error
        except ValueError as error:
            raise Conflict(
                "This client_message_id was already used for a different message.",
                code="client_message_id_reused",
            ) from error
    if written.created:
        count("MessagesAccepted")
        logger.info(
            "message accepted",
            extra={
                "workspace_id": caller.workspace_id,
                "conversation_id": message["conversation_id"],
                "message_id": message["message_id"],
            },
        )
    return _message_out(written.item), written.created


def list_messages(
    settings: WidgetIngestSettings, caller: WidgetCaller, after: str | None, limit: int
) -> Page[MessageOut]:
    caller.require_visitor()
    conversation = caller.require_conversation()
    _limit(settings, caller, write=False)
    items, more = conversations.list_messages(
        settings.conversations_table,
        caller.workspace_id,
        conversation["conversation_id"],
        after,
        limit,
    )
    out = [_message_out(item) for item in items]
    return Page[MessageOut](items=out, next_cursor=out[-1].id if more and out else None)


def request_human(
    settings: WidgetIngestSettings, caller: WidgetCaller, body: HandoffIn
) -> tuple[ConversationOut, bool]:
    """The visitor asks for a human: the conversation joins its department's queue (the
    requested department, else the workspace's first; a workspace without departments has one
    workspace-wide queue). Asking again changes nothing. Returns (conversation, handed off)."""
    caller.require_visitor()
    conversation = caller.require_conversation()
    _limit(settings, caller, write=True)
    result = handoff.request_human(
        _routing_tables(settings),
        caller.workspace_id,
        conversation,
        body.department_id,
        caller.workspace.settings.first_response_sla_seconds,
        requested_by="visitor",
    )
    (out,) = _conversations_out(settings, caller, [result.conversation])
    return out, result.handed_off


def rate_conversation(
    settings: WidgetIngestSettings, caller: WidgetCaller, body: CsatIn
) -> CsatOut:
    visitor_id = caller.require_visitor()
    conversation = caller.require_conversation()
    _limit(settings, caller, write=True)
    if conversation.get("csat_rating") is not None:
        raise Conflict("This conversation was already rated.", code="csat_already_submitted")
    comment = redact_card_numbers(body.comment.strip()) if body.comment else None
    try:
        item = conversations.rate(
            settings.conversations_table,
            caller.workspace_id,
            conversation["conversation_id"],
            visitor_id,
            body.rating,
            comment or None,
            conversation.get("expires_at"),
        )
    except FileExistsError as error:
        raise Conflict(
            "This conversation was already rated.", code="csat_already_submitted"
        ) from error
    except LookupError as error:
        raise NotFound("Conversation not found.") from error
    count("CsatSubmitted")
    return CsatOut(
        conversation_id=item["conversation_id"],
        rating=item["rating"],
        comment=item["comment"],
        created_at=item["created_at"],
    )
