"""Inbox API (dashboard conversations): request and response bodies. Request bodies reject
unknown fields, so routing state (owner, assignee, queue, load) is never writable directly."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from yoosr.domain.text import clean_message_text
from yoosr.models.common import Strict
from yoosr.models.widget import CLIENT_ID_PATTERN, MESSAGE_MAX_CHARS

LABELS_MAX = 20
USER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
DEPARTMENT_ID_PATTERN = r"^dept_[0-9A-HJKMNP-TV-Z]{26}$"
LABEL_ID_PATTERN = r"^label_[0-9A-HJKMNP-TV-Z]{26}$"

LabelId = Annotated[str, Field(pattern=LABEL_ID_PATTERN)]


class ReplyIn(Strict):
    text: str = Field(
        max_length=4 * MESSAGE_MAX_CHARS,
        description=f"1 to {MESSAGE_MAX_CHARS} characters after trimming.",
    )
    private: bool = Field(
        default=False,
        description="true: a private note, visible on dashboard routes only (never to the "
        "visitor).",
    )
    client_message_id: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="Optional client-chosen id; a retry with it never creates a second message.",
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


class AssignIn(Strict):
    """Exactly one of them: an agent (assign) or a department (transfer to its queue)."""

    agent_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    department_id: str | None = Field(default=None, pattern=DEPARTMENT_ID_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> AssignIn:
        if (self.agent_id is None) == (self.department_id is None):
            raise ValueError("give exactly one of agent_id, department_id")
        return self


class LabelsIn(Strict):
    add: list[LabelId] = Field(default_factory=list, max_length=LABELS_MAX)
    remove: list[LabelId] = Field(default_factory=list, max_length=LABELS_MAX)

    @model_validator(mode="after")
    def _sensible(self) -> LabelsIn:
        if not self.add and not self.remove:
            raise ValueError("give labels to add or remove")
        if set(self.add) & set(self.remove):
            raise ValueError("a label cannot be both added and removed")
        return self


class InboxConversation(BaseModel):
    id: str
    status: Literal["open", "resolved"]
    owner: Literal["bot", "human"]
    department_id: str | None
    assignee_id: str | None = Field(description="null while queued, with the bot, or resolved.")
    last_assignee_id: str | None = None
    queue_position: int | None = Field(
        default=None, description="1-based place in the department's queue while waiting."
    )
    visitor_id: str
    labels: list[str]
    created_at: str
    last_activity_at: str
    last_message_preview: str | None
    last_message_sender: str | None = None
    message_count: int
    unread_by_agents: int
    handed_off_at: str | None = None
    assigned_at: str | None = None
    first_response_at: str | None = None
    first_response_due_at: str | None = None
    first_response_overdue: bool = False
    resolved_at: str | None = None
    resolved_by: str | None = None


class VisitorInfo(BaseModel):
    visitor_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    identity_verified: bool = False
    restricted: bool = False
    device: dict[str, str | None] | None = None
    created_at: str | None = None
    last_seen_at: str | None = None


class ConversationDetail(InboxConversation):
    visitor: VisitorInfo | None = Field(description="null when the visitor's data was erased.")
    inside_business_hours: bool
    next_open_at: str | None


class InboxMessage(BaseModel):
    id: str
    conversation_id: str
    sender_type: Literal["visitor", "bot", "agent", "system"]
    text: str
    private: bool = Field(description="A private note: never shown to the visitor.")
    created_at: str
    agent_id: str | None = None
    client_message_id: str | None = None
    buttons: list[dict[str, str]] | None = None
