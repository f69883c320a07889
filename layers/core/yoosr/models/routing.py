"""Routing state of a conversation, as the assignment engine reasons about it.

A conversation is owned by the bot or by humans. A human-owned open conversation is either
waiting in its department's queue (`queued`) or held by an agent (`assignee_id`), never both.
`assignee_id` is set only while the conversation is open and counted in that agent's
`open_count`: resolving releases it (kept as `last_assignee_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

Status = Literal["open", "resolved"]
Owner = Literal["bot", "human"]
WORKSPACE_QUEUE = "-"
"""The queue key of a workspace without departments (or a conversation without one)."""


@dataclass(frozen=True)
class ConversationState:
    status: Status = "open"
    owner: Owner = "bot"
    department_id: str | None = None
    assignee_id: str | None = None
    last_assignee_id: str | None = None
    queued: bool = False
    arrival_id: str | None = None
    handed_off_at: str | None = None
    assigned_at: str | None = None
    first_response_at: str | None = None
    first_response_due_at: str | None = None
    first_response_overdue: bool = False
    resolved_at: str | None = None
    resolved_by: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> ConversationState:
        """The state stored on a conversation item (missing attributes take their defaults)."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name == "queued":
                values["queued"] = item.get("queue_sk") is not None
            elif item.get(field.name) is not None:
                values[field.name] = item[field.name]
        values["first_response_overdue"] = bool(item.get("first_response_overdue", False))
        return cls(**values)

    def with_(self, **changes: Any) -> ConversationState:
        return replace(self, **changes)

    @property
    def waiting(self) -> bool:
        """Waiting for an agent: open, human-owned and in a queue."""
        return self.status == "open" and self.owner == "human" and self.queued

    @property
    def needs_routing(self) -> bool:
        """Human-owned and open but neither queued nor held: some writer handed it off without
        enqueueing it (the stream consumer repairs this)."""
        return (
            self.status == "open"
            and self.owner == "human"
            and self.assignee_id is None
            and not self.queued
        )

    @property
    def holder(self) -> str | None:
        """The agent whose open_count counts this conversation."""
        return self.assignee_id if self.status == "open" else None

    @property
    def awaiting_first_response(self) -> bool:
        """Tracked by the first-response deadline index."""
        return (
            self.status == "open"
            and self.owner == "human"
            and self.first_response_at is None
            and self.first_response_due_at is not None
            and not self.first_response_overdue
        )

    @property
    def queue_key(self) -> str:
        return self.department_id or WORKSPACE_QUEUE

    def changed_fields(self, other: ConversationState) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]
