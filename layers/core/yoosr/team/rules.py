"""Team rules as plain functions: presence, uniqueness keys, membership changes and when a
team change should wake the dispatcher. No I/O here."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["online", "away", "offline"]
PRESENT: frozenset[str] = frozenset({"online", "away"})


def effective_status(status: str | None, presence_expires_at: int | None, now: int) -> Status:
    """Presence as stored, except that an online or away agent whose heartbeat expired is
    offline: nobody has to write anything for an abandoned dashboard to go offline."""
    if status not in PRESENT:
        return "offline"
    if presence_expires_at is None or presence_expires_at <= now:
        return "offline"
    return "online" if status == "online" else "away"


def presence_expiry(status: Status, now: int, ttl_seconds: int) -> int | None:
    """When a heartbeat of this status lapses; offline needs no heartbeat."""
    return None if status == "offline" else now + ttl_seconds


def name_key(name: str) -> str:
    """The case- and width-insensitive form two names must not share (`VIP` = `vip` = `ＶＩＰ`)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def ordered_unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class MembershipChange:
    added: list[str]
    removed: list[str]

    @property
    def empty(self) -> bool:
        return not self.added and not self.removed


def membership_change(before: Sequence[str], after: Sequence[str]) -> MembershipChange:
    return MembershipChange(
        added=[d for d in after if d not in before],
        removed=[d for d in before if d not in after],
    )


@dataclass(frozen=True)
class AgentState:
    """What decides whether an agent can take more conversations."""

    status: Status
    capacity: int
    departments: tuple[str, ...]

    @classmethod
    def of(cls, item: Mapping[str, Any], now: int) -> AgentState:
        return cls(
            status=effective_status(item.get("status"), item.get("presence_expires_at"), now),
            capacity=int(item.get("capacity", 0)),
            departments=tuple(item.get("departments") or ()),
        )


def departments_to_dispatch(before: AgentState, after: AgentState) -> list[str] | None:
    """The departments whose queues may move because of this change, or None when nothing
    new can be assigned: the agent came online (all their departments), or, while online,
    gained capacity (all) or departments (the new ones)."""
    if after.status != "online" or after.capacity == 0:
        return None
    if before.status != "online" or after.capacity > before.capacity:
        return list(after.departments)
    added = [d for d in after.departments if d not in before.departments]
    return added or None


def is_available(state: AgentState, open_count: int) -> bool:
    return state.status == "online" and open_count < state.capacity
