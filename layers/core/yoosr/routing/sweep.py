"""The scheduled sweep (AgentRoutingSweepFunction, every minute).

1. Flags conversations whose first human reply is overdue: the by_sla_due index holds exactly
   the conversations still awaiting one, sorted by deadline, so the sweep reads only the
   overdue ones; flagging removes them from the index.
2. Gives back conversations held by agents who went offline: the by_routing_work index holds
   one H# item per held conversation, grouped by (workspace, agent); a skip scan visits each
   holder once, and only offline holders' conversations are read.
3. Dispatches every queue with waiting conversations: the same index holds one Q# item per
   queue entry, grouped by (workspace, queue); a skip scan visits each waiting queue once.

No Scan and no list of workspaces to maintain: the work indexes are sparse (only routing work
is in them) and keyed by a small sharded constant, so the sweep's reads follow the amount of
work, not the size of the tables. Every step is an idempotent conditional write, so an
overlapping or repeated sweep is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from yoosr import clock
from yoosr.errors import Conflict, NotFound
from yoosr.models.routing import ConversationState
from yoosr.observability import count, logger
from yoosr.routing import dispatcher, strategy, transitions
from yoosr.routing.apply import apply_transition
from yoosr.routing.strategy import Candidate
from yoosr.store import assignment
from yoosr.store import conversations as conv_store
from yoosr.store.assignment import Tables

OVERDUE_PAGE = 100


@dataclass
class SweepReport:
    flagged: int = 0
    given_back: int = 0
    assigned: int = 0
    queues: int = 0
    complete: bool = True


def sweep(
    tables: Tables, grace_seconds: int, out_of_time: Callable[[], bool] = lambda: False
) -> SweepReport:
    report = SweepReport()
    for step in (_flag_overdue, _give_back, _dispatch_waiting):
        if out_of_time():
            report.complete = False
            break
        step(tables, report, grace_seconds, out_of_time)
    logger.info("sweep done", extra=report.__dict__)
    return report


def _flag_overdue(
    tables: Tables, report: SweepReport, _: int, out_of_time: Callable[[], bool]
) -> None:
    tried: set[tuple[str, str]] = set()
    for shard_no in range(conv_store.ROUTING_SHARDS):
        while not out_of_time():
            found = [
                pair
                for pair in assignment.overdue(
                    tables.conversations, shard_no, clock.iso(), OVERDUE_PAGE
                )
                if pair not in tried
            ]
            if not found:
                break
            for ws, conversation_id in found:
                tried.add((ws, conversation_id))
                try:
                    applied = apply_transition(
                        tables,
                        ws,
                        conversation_id,
                        lambda before, _: transitions.flag_overdue(before),
                    )
                except (NotFound, Conflict):
                    continue
                except Exception:  # one conversation's trouble must not stop the sweep
                    logger.exception("sweep flag failed", extra={"workspace_id": ws})
                    count("SweepFailures")
                    continue
                if applied.changed:
                    report.flagged += 1
                    count("FirstResponseOverdue")
                    logger.info(
                        "first response overdue",
                        extra={"workspace_id": ws, "conversation_id": conversation_id},
                    )


def _give_back(
    tables: Tables, report: SweepReport, grace_seconds: int, out_of_time: Callable[[], bool]
) -> None:
    now = clock.epoch()
    for shard_no in range(conv_store.ROUTING_SHARDS):
        for ws, agent_id in assignment.holders(tables.conversations, shard_no):
            if out_of_time():
                return
            try:
                report.given_back += _give_back_agent(tables, ws, agent_id, now, grace_seconds)
            except Exception:  # one agent's trouble must not stop the sweep
                logger.exception("sweep give-back failed", extra={"workspace_id": ws})
                count("SweepFailures")


def _give_back_agent(tables: Tables, ws: str, agent_id: str, now: int, grace_seconds: int) -> int:
    item = assignment.agent(tables.workspaces, ws, agent_id)
    if not strategy.gone_offline(Candidate.of(item) if item else None, now, grace_seconds):
        return 0
    given_back = 0
    for conversation_id in assignment.held_by(tables.conversations, ws, agent_id):

        def decide(before: ConversationState, _: object) -> ConversationState:
            if before.status != "open" or before.assignee_id != agent_id:
                return before
            return transitions.give_back(before)

        try:
            applied = apply_transition(tables, ws, conversation_id, decide)
        except (NotFound, Conflict):
            continue
        if applied.changed:
            given_back += 1
            count("ConversationsGivenBack")
            logger.info(
                "given back: agent offline",
                extra={"workspace_id": ws, "conversation_id": conversation_id},
            )
    return given_back


def _dispatch_waiting(
    tables: Tables, report: SweepReport, _: int, out_of_time: Callable[[], bool]
) -> None:
    by_workspace: dict[str, list[str]] = defaultdict(list)
    for shard_no in range(conv_store.ROUTING_SHARDS):
        for ws, queue_key in assignment.waiting_queues(tables.conversations, shard_no):
            by_workspace[ws].append(queue_key)
    for ws, queue_keys in by_workspace.items():
        if out_of_time():
            return
        try:
            pool = dispatcher.Pool.load(tables, ws)
            for queue_key in queue_keys:
                report.queues += 1
                report.assigned += dispatcher.dispatch_queue(tables, ws, queue_key, pool)
        except Exception:  # one workspace's trouble must not starve the others' queues
            logger.exception("sweep dispatch failed", extra={"workspace_id": ws})
            count("SweepFailures")
