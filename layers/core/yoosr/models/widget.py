"""Widget API: request and response bodies (API.md, "Widget API")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt, field_validator, model_validator

from yoosr.domain.text import clean_message_text
from yoosr.models.common import Strict

MESSAGE_MAX_CHARS = 4_000
CSAT_COMMENT_MAX_CHARS = 1_000
REPLY_VALUE_MAX_CHARS = 100
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_EMAIL = re.compile(
    r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,22}[0-9]$")


def valid_email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def valid_phone(value: str) -> str:
    value = value.strip()
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.match(value) or not 6 <= digits <= 15:
        raise ValueError("not a valid phone number (digits, spaces, +, -, parentheses)")
    return value


def valid_name(value: str) -> str:
    value = " ".join(value.split())
    if not 1 <= len(value) <= 100:
        raise ValueError("must be 1 to 100 characters")
    return value


Name = Annotated[str, AfterValidator(valid_name)]
Email = Annotated[str, AfterValidator(valid_email)]
Phone = Annotated[str, AfterValidator(valid_phone)]


class IdentityIn(Strict):
    user_id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    user_hash: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    name: Name | None = None
    email: Email | None = None


class SessionCreate(Strict):
    identity: IdentityIn | None = None
    page_url: str | None = Field(default=None, max_length=2048)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")


class SessionOut(BaseModel):
    session_token: str
    visitor_id: str
    expires_at: str


class VisitorUpdate(Strict):
    """Attributes to set; `null` clears one. At least one field."""

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> VisitorUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, email, phone")
        return self


class VisitorOut(BaseModel):
    visitor_id: str
    name: str | None
    email: str | None
    phone: str | None
    identity_verified: bool


class MessageIn(Strict):
    client_message_id: str = Field(
        pattern=CLIENT_ID_PATTERN,
        description="Client-chosen id; a retry with it never creates a second message.",
    )
    text: str = Field(
        max_length=4 * MESSAGE_MAX_CHARS,
        description=f"1 to {MESSAGE_MAX_CHARS} characters after trimming.",
    )

    reply_value: str | None = Field(
        default=None,
        min_length=1,
        max_length=REPLY_VALUE_MAX_CHARS,
        description="The value of the quick reply the visitor tapped (bot buttons); `text` "
        "carries its label.",
    )

    @field_validator("text")
    @classmethod
    def _text_length(cls, value: str) -> str:
        value = clean_message_text(value)
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MESSAGE_MAX_CHARS:
            raise ValueError(f"must be at most {MESSAGE_MAX_CHARS} characters")
        return value


class ConversationStart(Strict):
    client_conversation_id: str | None = Field(default=None, pattern=CLIENT_ID_PATTERN)
    message: MessageIn | None = None


class MessageOut(BaseModel):
    id: str
    conversation_id: str
    sender_type: Literal["visitor", "bot", "agent", "system"]
    text: str
    created_at: str
    client_message_id: str | None = None
    agent_id: str | None = None
    buttons: list[dict[str, str]] | None = Field(
        default=None, description="Quick replies of a bot message: [{label, value}]."
    )
    reply_value: str | None = Field(
        default=None, description="The quick-reply value a visitor's message carried."
    )


class ConversationOut(BaseModel):
    id: str
    status: Literal["open", "resolved"]
    owner: Literal["bot", "human"]
    department_id: str | None
    assignee_id: str | None
    queue_position: int | None = Field(
        description="While waiting for an agent: 1-based place in line (null otherwise)."
    )
    created_at: str
    last_activity_at: str
    last_message_preview: str | None
    message_count: int
    csat_rating: int | None
    inside_business_hours: bool | None = Field(
        default=None,
        description="Once humans own the conversation: whether its team is inside business "
        "hours now (null while the bot has it).",
    )
    next_open_at: str | None = Field(
        default=None, description="Outside business hours: when the team opens next."
    )


class ConversationStarted(ConversationOut):
    message: MessageOut | None


class HandoffIn(Strict):
    department_id: str | None = Field(
        default=None,
        pattern=r"^dept_[0-9A-HJKMNP-TV-Z]{26}$",
        description="The department to talk to; default: the workspace's first department.",
    )


class CsatIn(Strict):
    rating: StrictInt = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=CSAT_COMMENT_MAX_CHARS)


class CsatOut(BaseModel):
    conversation_id: str
    rating: int
    comment: str | None
    created_at: str


class BusinessHoursOut(BaseModel):
    timezone: str | None
    open_now: bool
    next_open_at: str | None


class WidgetLimits(BaseModel):
    message_max_chars: int = MESSAGE_MAX_CHARS
    csat_comment_max_chars: int = CSAT_COMMENT_MAX_CHARS
    page_max_items: int = 200


class WidgetConfigOut(BaseModel):
    workspace_name: str
    greeting: str
    appearance: dict[str, str]
    business_hours: BusinessHoursOut
    agents_online: bool
    pre_chat_fields: list[str]
    identity_verification_required: bool
    limits: WidgetLimits
