"""Bot admin API (flows, knowledge base, preview): request and response bodies.

A flow's own fields are validated by yoosr.bot.flows.validate_flow (422 details naming the
step), so flow request bodies arrive as plain JSON objects; everything else is a model here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from yoosr.bot.flows import Flow
from yoosr.domain.text import clean_message_text
from yoosr.models.common import Strict

# The limits of yoosr.bot.knowledge.KnowledgeEntry, so every saved entry can be indexed.
TITLE_MAX = 200
CONTENT_MAX = 8_000
TAG_MAX = 40
TAGS_MAX = 20
PREVIEW_MESSAGES_MAX = 20
PREVIEW_TEXT_MAX = 4_000
PREVIEW_ATTRIBUTES_MAX = 50
ATTRIBUTE_VALUE_MAX = 500

FLOW_BODY_DESCRIPTION = (
    "A flow (see the FlowOut schema and docs/bot.md): `name`, `start_step`, `steps`, optional "
    "`default_department_id` and `handoff_message`. The server assigns `id` and `version`. "
    "`active: true` makes it the flow that greets new conversations (`false` stops it being "
    "that). On PUT, `version` is optional: the version you edited, refused with 409 "
    "`version_conflict` if the flow changed since; `id`, if given, must be the path's id."
)
FLOW_EXAMPLE: dict[str, Any] = {
    "name": "Welcome",
    "start_step": "greet",
    "active": True,
    "steps": [
        {"id": "greet", "type": "message", "text": "Hi! I'm the Acme bot.", "next": "menu"},
        {
            "id": "menu",
            "type": "buttons",
            "text": "What can I help with?",
            "on_other": "ask",
            "options": [
                {"label": "A question", "value": "question", "next": "ask"},
                {"label": "Talk to a person", "value": "human", "next": "human"},
            ],
        },
        {"id": "ask", "type": "ai_answer", "prompt": "Ask away!", "on_no_answer": "human"},
        {"id": "human", "type": "handoff", "message": "Connecting you to our team."},
    ],
}


def _text(limit: int, *, one_line: bool) -> AfterValidator:
    def check(value: str) -> str:
        value = clean_message_text(value)
        if one_line:
            value = " ".join(value.split())
        if not 1 <= len(value) <= limit:
            raise ValueError(f"must be 1 to {limit} characters")
        return value

    return AfterValidator(check)


def _distinct_tags(tags: list[str]) -> list[str]:
    """Tags compare without case; the first spelling is kept."""
    seen: set[str] = set()
    kept = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            kept.append(tag)
    return kept


Title = Annotated[str, Field(max_length=4 * TITLE_MAX), _text(TITLE_MAX, one_line=True)]
Content = Annotated[str, Field(max_length=4 * CONTENT_MAX), _text(CONTENT_MAX, one_line=False)]
Tag = Annotated[str, Field(max_length=4 * TAG_MAX), _text(TAG_MAX, one_line=True)]
AttributeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
AttributeValue = Annotated[str, Field(max_length=ATTRIBUTE_VALUE_MAX)]


# ---------------------------------------------------------------- flows


class FlowSummaryOut(BaseModel):
    id: str
    name: str
    version: int
    active: bool = Field(description="Whether this flow greets new conversations.")
    step_count: int
    created_at: str
    updated_at: str


class FlowOut(Flow):
    """The flow as saved, with whether it greets new conversations."""

    active: bool = Field(description="Whether this flow greets new conversations.")
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- knowledge


class KnowledgeIn(Strict):
    """A knowledge entry; PUT replaces every field."""

    title: Title
    content: Content = Field(description="Plain text or Markdown.")
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX), AfterValidator(_distinct_tags)] = Field(
        default_factory=list,
        description="Synonyms and other words the entry should be found by.",
    )


class KnowledgeOut(BaseModel):
    id: str
    title: str
    content: str
    tags: list[str]
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- preview


class PreviewMessageIn(Strict):
    text: Annotated[
        str, Field(max_length=4 * PREVIEW_TEXT_MAX), _text(PREVIEW_TEXT_MAX, one_line=False)
    ]
    value: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The value of the quick reply tapped (a button's value)."
    )


class PreviewIn(Strict):
    messages: Annotated[
        list[PreviewMessageIn], Field(min_length=1, max_length=PREVIEW_MESSAGES_MAX)
    ] = Field(description="The visitor's messages, in order, from a new conversation.")
    flow_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="The flow to run; the workspace's greeting flow by default."
    )
    agents_online: StrictBool = Field(
        default=False, description="What `agents_online` conditions see."
    )
    business_hours_open: StrictBool | None = Field(
        default=None,
        description="What `business_hours_open` conditions see; by default the workspace's "
        "business hours at the time of the request.",
    )
    attributes: Annotated[
        dict[AttributeName, AttributeValue], Field(max_length=PREVIEW_ATTRIBUTES_MAX)
    ] = Field(default_factory=dict, description="Visitor attributes the conditions may read.")


class QuickReplyOut(BaseModel):
    label: str
    value: str


class MessageActionOut(BaseModel):
    type: Literal["message"] = "message"
    text: str
    buttons: list[QuickReplyOut] | None = None
    source: Literal["flow", "ai", "knowledge"]


class SetAttributeActionOut(BaseModel):
    type: Literal["set_attribute"] = "set_attribute"
    name: str
    value: str


class HandoffActionOut(BaseModel):
    type: Literal["handoff"] = "handoff"
    department_id: str | None
    reason: Literal["flow", "visitor_asked", "no_answer", "ai_failure", "budget"]
    message: str


class CloseActionOut(BaseModel):
    type: Literal["close"] = "close"
    message: str


ActionOut = Annotated[
    MessageActionOut | SetAttributeActionOut | HandoffActionOut | CloseActionOut,
    Field(discriminator="type"),
]


class PreviewTurnOut(BaseModel):
    text: str = Field(description="The visitor's message.")
    value: str | None = None
    actions: list[ActionOut] = Field(description="What the bot did in reply, in order.")


class PreviewStateOut(BaseModel):
    flow_id: str
    flow_version: int
    step_id: str | None
    status: Literal["running", "handed_off", "closed"]
    attributes: dict[str, str]


class PreviewOut(BaseModel):
    turns: list[PreviewTurnOut]
    state: PreviewStateOut
