"""The per-workspace daily AI token budget (Ephemeral table, one item per UTC day).

A model call first *reserves* what it may use at most (its prompt estimate plus max_tokens)
with one conditional ADD: the reservation lands only while the day's total stays within the
budget, so concurrent calls can never overshoot it together. After the call, `settle` moves
the total by (tokens really used - reserved); a failed call gives its whole reservation back.
"""

from __future__ import annotations

from yoosr import clock
from yoosr.errors import ConditionFailed
from yoosr.store import ddb, keys

DAY = 86_400


def today() -> str:
    return clock.now().strftime("%Y-%m-%d")


def reserve(table: str, ws: str, day: str, tokens: int, budget: int) -> bool:
    """Reserve `tokens` of today's `budget`; False when they do not fit."""
    if tokens > budget:
        return False
    pk, sk = keys.ai_budget(ws, day)
    try:
        ddb.update(
            table,
            pk,
            sk,
            "ADD used :tokens SET expires_at = if_not_exists(expires_at, :expires)",
            condition="attribute_not_exists(used) OR used <= :room",
            vals=ddb.values(tokens=tokens, room=budget - tokens, expires=clock.epoch() + 2 * DAY),
        )
    except ConditionFailed:
        return False
    return True


def settle(table: str, ws: str, day: str, delta: int) -> None:
    """Correct a reservation by what the call really used (negative: give tokens back)."""
    if delta == 0:
        return
    pk, sk = keys.ai_budget(ws, day)
    ddb.update(table, pk, sk, "ADD used :delta", vals=ddb.values(delta=delta))


def used(table: str, ws: str, day: str) -> int:
    item = ddb.get(table, *keys.ai_budget(ws, day))
    return int(item["used"]) if item and ddb.is_live(item) else 0
