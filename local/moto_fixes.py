"""Corrections to moto where its behaviour differs from AWS in ways the stack would notice.

Cancelled transactions and the stream. moto rolls a cancelled TransactWriteItems back by
swapping each table for a deep copy taken before it started. The copy carries a copy of the
stream shard, so (1) records for writes that never happened stay in the shard object that open
shard iterators still read, and (2) every later record goes to the new shard, which those
iterators never see: one cancelled transaction leaves a consumer with a phantom event and then
deaf. DynamoDB emits nothing for a cancelled transaction, so the live shard is kept, trimmed
back to its length before the transaction.
"""

from __future__ import annotations

import functools
from typing import Any

_APPLIED = False


def apply() -> None:
    global _APPLIED  # noqa: PLW0603 - patch once per process
    if _APPLIED:
        return
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - only where moto runs

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        live = {
            name: (table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if table.stream_shard is not None
        }
        try:
            original(self, transact_items)
        except Exception:
            for name, (shard, length) in live.items():
                del shard.items[length:]
                table = self.tables.get(name)
                if table is not None:
                    table.stream_shard = shard
                    shard.table = table
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _APPLIED = True
