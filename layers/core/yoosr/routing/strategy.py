"""Which agent takes the next conversation. Pure functions over plain values: no I/O.

Round robin picks the eligible agent assigned longest ago (never-assigned agents first), and
every assignment stamps the agent strictly later than any agent of the pool, so sequential
assignments rotate through the pool exactly: counts never differ by more than one. Least busy
picks the fewest open conversations, ties to the agent who waited longest since an assignment.
Ties after that go to the smaller user id, so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Strategy = Literal["round_robin", "least_busy"]
STRATEGIES: tuple[Strategy, ...] = ("round_robin", "least_busy")


@dataclass(frozen=True)
class Candidate:
    """An agent as the dispatcher sees it."""

    user_id: str
    status: str = "offline"
    presence_expires_at: int | None = None
    capacity: int = 0
    open_count: int = 0
    departments: tuple[str, ...] = ()
    last_assigned_at: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Candidate:
        expires = item.get("presence_expires_at")
        return cls(
            user_id=str(item["user_id"]),
            status=str(item.get("status") or "offline"),
            presence_expires_at=int(expires) if isinstance(expires, int | float) else None,
            capacity=int(item.get("capacity") or 0),
            open_count=int(item.get("open_count") or 0),
            departments=tuple(item.get("departments") or ()),
            last_assigned_at=item.get("last_assigned_at"),
        )

    def online(self, now: int) -> bool:
        """Online with an unexpired heartbeat (an abandoned dashboard is offline)."""
        return (
            self.status == "online"
            and self.presence_expires_at is not None
            and self.presence_expires_at > now
        )

    def serves(self, department_id: str | None) -> bool:
        """None means the workspace-wide queue (or a department that no longer exists):
        every agent serves it."""
        return department_id is None or department_id in self.departments

    def eligible(self, department_id: str | None, now: int) -> bool:
        return self.online(now) and self.open_count < self.capacity and self.serves(department_id)


def _order_key(candidate: Candidate, strategy: Strategy) -> tuple[Any, ...]:
    # "" sorts before every ISO timestamp: never assigned means waited longest.
    waited = candidate.last_assigned_at or ""
    if strategy == "least_busy":
        return (candidate.open_count, waited, candidate.user_id)
    return (waited, candidate.user_id)


def ranked(
    candidates: Iterable[Candidate], strategy: Strategy, department_id: str | None, now: int
) -> list[Candidate]:
    """Eligible agents, best first."""
    pool = [c for c in candidates if c.eligible(department_id, now)]
    return sorted(pool, key=lambda c: _order_key(c, strategy))


def choose(
    candidates: Iterable[Candidate], strategy: Strategy, department_id: str | None, now: int
) -> Candidate | None:
    best = ranked(candidates, strategy, department_id, now)
    return best[0] if best else None


def free_slots(candidates: Iterable[Candidate], department_id: str | None, now: int) -> int:
    return sum(c.capacity - c.open_count for c in candidates if c.eligible(department_id, now))


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def assignment_stamp(now_iso: str, candidates: Iterable[Candidate]) -> str:
    """`last_assigned_at` for the next assignment: now, or 1 ms after the newest stamp of the
    pool when the clock has not moved past it, so the pool's order is strict."""
    newest = max((c.last_assigned_at for c in candidates if c.last_assigned_at), default=None)
    if newest is None or now_iso > newest:
        return now_iso
    return _format(_parse(newest) + timedelta(milliseconds=1))


def after_assignment(candidate: Candidate, stamp: str) -> Candidate:
    return replace(candidate, open_count=candidate.open_count + 1, last_assigned_at=stamp)


def strategy_of(department: Mapping[str, Any] | None) -> Strategy:
    value = (department or {}).get("routing_strategy")
    return "least_busy" if value == "least_busy" else "round_robin"


def gone_offline(candidate: Candidate | None, now: int, grace_seconds: int) -> bool:
    """Should this agent's conversations go back to the queue? An agent who is gone, set
    themselves offline, or whose heartbeat lapsed more than `grace_seconds` ago (a flaky
    network gets a moment to reconnect). Away keeps conversations: it is a short break."""
    if candidate is None or candidate.status not in ("online", "away"):
        return True
    expires = candidate.presence_expires_at
    return expires is None or expires + grace_seconds <= now
