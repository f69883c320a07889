"""Domain events read from the Conversations stream's new images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class VisitorMessageEvent(BaseModel):
    workspace_id: str
    conversation_id: str
    message_id: str
    created_at: str


def visitor_message_from_image(image: Mapping[str, Any] | None) -> VisitorMessageEvent | None:
    """The event in a stream record's NewImage (already deserialised), or None."""
    if not image or image.get("item_type") != "message" or image.get("sender_type") != "visitor":
        return None
    return VisitorMessageEvent(
        workspace_id=str(image["workspace_id"]),
        conversation_id=str(image["conversation_id"]),
        message_id=str(image["message_id"]),
        created_at=str(image["created_at"]),
    )
