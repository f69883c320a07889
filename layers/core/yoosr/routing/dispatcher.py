"""Automatic assignment: give waiting conversations to agents, oldest arrival first.

For one queue: read the department (its strategy) and the workspace's agents (consistently),
then walk the queue from its head. Each claim is one transaction (agent: ADD open_count if
online, under capacity and in the department; conversation: assignee set if still waiting on
this entry; the entry deleted if it still exists). A lost race is not an error: an agent who
filled up is re-read and skipped, an entry another dispatcher took is passed over. The walk
stops when nobody can take more or the queue is empty.

Runs on every handoff (stream consumer), after a resolve or a transfer (the API), when an
agent comes online or gains capacity (the team API) and every minute (the sweep). Running it
twice, or concurrently, is always safe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from yoosr import clock
from yoosr.models.routing import WORKSPACE_QUEUE
from yoosr.observability import count, logger
from yoosr.routing import strategy, transitions
from yoosr.routing.strategy import Candidate
from yoosr.store import assignment
from yoosr.store.assignment import Claim, Tables, TransitionRefused

if TYPE_CHECKING:
    from yoosr.settings import AgentRoutingSettings

PAGE = 25
RACE_BACKOFF_S = 0.025
RACE_BACKOFF_MAX_S = 1.0

Item = dict[str, Any]


class Outcome(Enum):
    CLAIMED = "claimed"
    TAKEN = "taken"  # another dispatcher claimed the entry first
    STALE = "stale"  # the conversation no longer waits on this entry
    NO_AGENT = "no_agent"


@dataclass
class Pool:
    """The workspace's agents as last read, updated locally after each claim."""

    tables: Tables
    ws: str
    agents: dict[str, Candidate] = field(default_factory=dict)
    # Agents whose claim failed although they looked free: skipped for the rest of the run.
    refused: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, tables: Tables, ws: str) -> Pool:
        items = assignment.agents_of(tables.workspaces, ws)
        return cls(tables, ws, {c.user_id: c for c in map(Candidate.of, items)})

    def reload(self) -> None:
        fresh = Pool.load(self.tables, self.ws)
        self.agents, self.refused = fresh.agents, set()

    def usable(self) -> list[Candidate]:
        return [c for user_id, c in self.agents.items() if user_id not in self.refused]

    def refresh(self, user_id: str) -> None:
        """A claim with this agent was refused: someone else changed the load. Read every
        agent again (one query), since the others have most likely moved too."""
        before = self.agents.get(user_id)
        refused = set(self.refused)
        self.reload()
        self.refused = refused
        if self.agents.get(user_id) == before:
            self.refused.add(user_id)  # it looked free and still does: do not loop on it


def tables_of(settings: Any) -> Tables:
    return Tables(settings.workspaces_table, settings.conversations_table)


def dispatch_workspace(
    settings: AgentRoutingSettings, workspace_id: str, department_ids: list[str]
) -> int:
    """Assign what these departments' queues (and the workspace-wide queue) can now place;
    returns how many conversations were assigned."""
    return dispatch(tables_of(settings), workspace_id, department_ids)


def dispatch(tables: Tables, ws: str, department_ids: Iterable[str | None]) -> int:
    """The named departments' queues and always the workspace-wide one."""
    queue_keys = [assignment.queue_key_of(d) for d in department_ids]
    queue_keys.append(WORKSPACE_QUEUE)
    pool: Pool | None = None
    assigned = 0
    for queue_key in dict.fromkeys(queue_keys):
        if pool is None:
            pool = Pool.load(tables, ws)
        assigned += dispatch_queue(tables, ws, queue_key, pool)
    return assigned


def dispatch_queue(tables: Tables, ws: str, queue_key: str, pool: Pool | None = None) -> int:
    department_id = None if queue_key == WORKSPACE_QUEUE else queue_key
    department = (
        assignment.department(tables.workspaces, ws, department_id) if department_id else None
    )
    # A department deleted while conversations waited in it: anyone may take them.
    serving = department_id if department is not None else None
    order = strategy.strategy_of(department)
    pool = pool or Pool.load(tables, ws)
    assigned = 0
    races = 0
    after: str | None = None
    while True:
        now_epoch = clock.epoch()
        slots = strategy.free_slots(pool.usable(), serving, now_epoch)
        if slots <= 0:
            break
        wanted = min(slots, PAGE)
        entries = assignment.queue_head(tables.conversations, ws, queue_key, wanted, after)
        raced = False
        for entry in entries:
            after = str(entry["sk"])
            outcome = _claim_entry(tables, ws, entry, pool, serving, order)
            if outcome is Outcome.CLAIMED:
                assigned += 1
            elif outcome is Outcome.NO_AGENT:
                return _done(ws, queue_key, assigned)
            elif outcome is Outcome.TAKEN:
                # Another dispatcher works this queue right now: the rest of this page is
                # probably taken too, and the agents' load has moved. Step back a moment (the
                # winner usually fills the free slots meanwhile), then read both again rather
                # than spend a failing transaction per entry.
                races += 1
                backoff = min(RACE_BACKOFF_MAX_S, RACE_BACKOFF_S * 2**races)
                time.sleep(random.uniform(0, backoff))  # noqa: S311 - jitter only
                pool.reload()
                after, raced = None, True
                break
        if not raced and len(entries) < wanted:
            # The queue (read consistently) is exhausted: an entry written after this read
            # brings its own dispatch through the stream.
            break
    return _done(ws, queue_key, assigned)


def _done(ws: str, queue_key: str, assigned: int) -> int:
    if assigned:
        count("ConversationsAssigned", assigned)
        logger.info(
            "queue dispatched",
            extra={"workspace_id": ws, "queue": queue_key, "assigned": assigned},
        )
    return assigned


def _claim_entry(
    tables: Tables,
    ws: str,
    entry: Item,
    pool: Pool,
    serving: str | None,
    order: strategy.Strategy,
) -> Outcome:
    before = assignment.entry_state(entry)
    for _ in range(len(pool.agents) + 2):
        now_epoch, now = clock.epoch(), clock.iso()
        chosen = strategy.choose(pool.usable(), order, serving, now_epoch)
        if chosen is None:
            return Outcome.NO_AGENT
        rotation = [c for c in pool.agents.values() if c.serves(serving)]
        stamp = strategy.assignment_stamp(now, rotation)
        after = transitions.claim(before, chosen.user_id, now)
        try:
            assignment.write(
                tables,
                ws,
                str(entry["conversation_id"]),
                before,
                after,
                now=now,
                # The entry carries its conversation's expiry: the transition record keeps it.
                expires_at=entry.get("expires_at"),
                claim=Claim(now_epoch, serving),
                stamp=stamp,
            )
        except TransitionRefused as refused:
            if refused.queue_entry_gone:
                return Outcome.TAKEN
            if refused.stale:
                # The entry outlived its conversation's wait (expired or erased): drop it so
                # it stops occupying the head of the queue.
                assignment.drop_entry(tables.conversations, entry)
                count("StaleQueueEntries")
                return Outcome.STALE
            pool.refresh(chosen.user_id)
            continue
        pool.agents[chosen.user_id] = strategy.after_assignment(chosen, stamp)
        return Outcome.CLAIMED
    return Outcome.NO_AGENT
